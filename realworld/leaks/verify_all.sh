#!/bin/bash
# Rebuild a throwaway venv per pin (under ${LK_VENVS:-/tmp/lk}) and run each
# case with verify_case.py with the leaky and the fixed pin. No pytest-leakguard needed.
#   bash verify_all.sh [case ...]
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
VENVS="${LK_VENVS:-/tmp/lk}"
mkdir -p "$VENVS"
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=($(cd "$HERE" && ls -d */ | tr -d /))
for c in "${cases[@]}"; do
  toml="$HERE/$c/case.toml"
  [ -f "$toml" ] || continue
  read -r py leaky fixed < <(python3 -c "import sys,tomllib;d=tomllib.load(open(sys.argv[1],'rb'));print(d['python'],d['leaky_pin'],d['fixed_pin'])" "$toml")
  pybin=$(ls -d /root/.pyenv/versions/${py}.*/bin/python 2>/dev/null | head -1)
  [ -n "$pybin" ] || pybin="python$py"
  for pin in "$leaky" "$fixed"; do
    venv="$VENVS/${c}--${pin//==/-}"
    if [ ! -x "$venv/bin/python" ]; then
      "$pybin" -m venv "$venv" && "$venv/bin/pip" install -q "$pin" pytest >"$venv.install.log" 2>&1 \
        || { echo "!! install failed for $pin (see $venv.install.log)"; continue; }
    fi
    echo "### $c  $pin"
    (cd "$HERE/$c" && PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" ../verify_case.py | grep -v '^run ')
  done
done
