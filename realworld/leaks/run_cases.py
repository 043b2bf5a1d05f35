#!/usr/bin/env python3
"""Run every real-world leak case under pytest-leakguard, leaky pin and fixed pin.

    python realworld/leaks/run_cases.py [--only CASE ...] [--workdir DIR] [--jobs N]

For each case folder (one holding ``case.toml``) and each of its two pins, a venv
``<workdir>/venvs/py<version>--<pin>`` is created with the case's CPython (found
under /root/.pyenv/versions, else ``python<version>`` on PATH) and gets the pin,
pytest and this plugin (``pip install -e <repo>``). It is reused when its install
finished before (a ``.leakguard-ready`` marker holds what was installed). Then, in
the case folder:

    python -m pytest -p no:cacheprovider -c ../pytest.ini --leakguard-all \
        --leakguard-json=<workdir>/out/<case>--<pin>.json test_case.py

A pin counts as *flagged* when any test of the JSON document has ``leaked: true``.
A case meets its expectation when the leaky pin is flagged and the fixed pin is
not. The exit status is 1 if any case misses it (or could not be run).
A machine-readable summary goes to ``<workdir>/summary.json``.

Standard library only.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
INI = os.path.join(HERE, "pytest.ini")
PYTEST_TIMEOUT = 1800
INSTALL_TIMEOUT = 1800


def load_toml(path: str) -> dict:
    try:
        import tomllib  # 3.11+
    except ImportError:  # pragma: no cover - tiny fallback for flat key = "value" files
        data = {}
        for line in open(path, encoding="utf-8"):
            m = re.match(r'\s*([A-Za-z_][\w-]*)\s*=\s*"([^"]*)"\s*$', line)
            if m:
                data[m.group(1)] = m.group(2)
        return data
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def find_cases(only: list[str] | None) -> list[dict]:
    cases = []
    for toml in sorted(glob.glob(os.path.join(HERE, "*", "case.toml"))):
        case_dir = os.path.dirname(toml)
        name = os.path.basename(case_dir)
        if only and name not in only:
            continue
        meta = load_toml(toml)
        meta["dir"] = case_dir
        meta["name"] = name
        cases.append(meta)
    if only:
        missing = set(only) - {c["name"] for c in cases}
        if missing:
            sys.exit("unknown case(s): " + ", ".join(sorted(missing)))
    return cases


def find_python(version: str) -> str:
    found = sorted(glob.glob(f"/root/.pyenv/versions/{version}.*/bin/python"))
    if found:
        return found[-1]
    exe = shutil.which(f"python{version}")
    if exe:
        return exe
    raise RuntimeError(f"no CPython {version} found")


def log_tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def ensure_venv(workdir: str, python_version: str, pin: str) -> str:
    """The venv's python for this pin, installing it if needed."""
    slug = re.sub(r"[^\w.-]+", "-", pin)
    venv = os.path.join(workdir, "venvs", f"py{python_version}--{slug}")
    py = os.path.join(venv, "bin", "python")
    marker = os.path.join(venv, ".leakguard-ready")
    wanted = f"{pin}\npytest\n-e {REPO}\n"
    if os.path.isfile(marker) and os.access(py, os.X_OK):
        with open(marker, encoding="utf-8") as handle:
            if handle.read() == wanted:
                return py
    if os.path.exists(venv):
        shutil.rmtree(venv)
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    log = venv + ".install.log"
    with open(log, "w", encoding="utf-8") as out:
        steps = [
            [find_python(python_version), "-m", "venv", venv],
            [py, "-m", "pip", "install", "--disable-pip-version-check", "-q",
             pin, "pytest", "-e", REPO],
        ]
        for cmd in steps:
            out.write("$ " + " ".join(cmd) + "\n")
            out.flush()
            rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 timeout=INSTALL_TIMEOUT)
            if rc:
                raise RuntimeError(f"install failed ({log}):\n{log_tail(log)}")
    with open(marker, "w", encoding="utf-8") as handle:
        handle.write(wanted)
    return py


def run_pin(case: dict, pin: str, workdir: str) -> dict:
    """Install (or reuse) the venv and run the case's test under leakguard."""
    out = {"pin": pin, "flagged": None, "kinds": [], "leaks": [], "error": None}
    tag = case["name"] + "--" + re.sub(r"[^\w.-]+", "-", pin)
    outdir = os.path.join(workdir, "out")
    os.makedirs(outdir, exist_ok=True)
    json_path = os.path.join(outdir, tag + ".json")
    junit_path = os.path.join(outdir, tag + ".junit.xml")
    log_path = os.path.join(outdir, tag + ".pytest.log")
    for stale in (json_path, junit_path):
        if os.path.exists(stale):
            os.remove(stale)
    try:
        py = ensure_venv(workdir, str(case["python"]), pin)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        out["error"] = f"install: {exc}"
        return out
    cmd = [py, "-m", "pytest", "-p", "no:cacheprovider", "-c", INI,
           "--leakguard-all", f"--leakguard-json={json_path}", f"--junitxml={junit_path}",
           "-q", os.path.join(case["dir"], case.get("test", "test_case.py"))]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        try:
            rc = subprocess.call(cmd, cwd=case["dir"], stdout=log, stderr=subprocess.STDOUT,
                                 env=env, timeout=PYTEST_TIMEOUT)
        except subprocess.TimeoutExpired:
            out["error"] = f"pytest timed out after {PYTEST_TIMEOUT}s ({log_path})"
            return out
    out["seconds"] = round(time.monotonic() - started, 1)
    out["returncode"] = rc
    out["log"] = log_path
    out["json"] = json_path
    if rc not in (0, 1) or not os.path.exists(json_path):
        out["error"] = f"pytest exit {rc}, see {log_path}:\n{log_tail(log_path)}"
        return out
    with open(json_path, encoding="utf-8") as handle:
        doc = json.load(handle)
    tests = doc.get("tests", [])
    if not tests:
        out["error"] = f"no test in {json_path}"
        return out
    leaks = [dict(leak, nodeid=t["nodeid"]) for t in tests for leak in t.get("leaks", [])]
    out["flagged"] = any(t.get("leaked") for t in tests)
    out["kinds"] = sorted({leak["kind"] for leak in leaks})
    out["leaks"] = [{k: leak.get(k) for k in ("nodeid", "kind", "summary", "per_run", "count", "site")}
                    for leak in leaks]
    out["memory"] = [{"nodeid": t["nodeid"],
                      "bytes_per_run": (t.get("memory") or {}).get("bytes_per_run"),
                      "objects_per_run": (t.get("memory") or {}).get("objects_per_run"),
                      "bytes_trend": (t.get("memory") or {}).get("bytes_trend"),
                      "objects_trend": (t.get("memory") or {}).get("objects_trend")}
                     for t in tests]
    # A test that failed on its own (not because leakguard flagged it) is an error.
    out["test_failures"] = junit_failures(junit_path)
    if rc == 1 and not out["flagged"]:
        out["error"] = "test failed but not flagged: " + "; ".join(out["test_failures"])[:500]
    return out


def junit_failures(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    found = []
    for case in ET.parse(path).getroot().iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                msg = (child.get("message") or child.text or "").strip().splitlines()
                found.append(f"{case.get('name')}: {child.tag}: {msg[0] if msg else ''}")
    return found


def verdict(result: dict) -> str:
    if result["error"]:
        return "ERROR"
    if result["flagged"]:
        return "flagged (" + ", ".join(result["kinds"]) + ")"
    return "clean"


def run_case(case: dict, workdir: str) -> dict:
    leaky = run_pin(case, case["leaky_pin"], workdir)
    fixed = run_pin(case, case["fixed_pin"], workdir)
    ok = leaky["flagged"] is True and fixed["flagged"] is False \
        and not leaky["error"] and not fixed["error"]
    return {"case": case["name"], "kind": case.get("kind", "?"), "python": str(case["python"]),
            "leaky": leaky, "fixed": fixed, "ok": ok}


def print_table(rows: list[dict]) -> None:
    head = ["case", "kind", "leaky pin -> flagged?", "fixed pin -> flagged?", "expected met"]
    body = [[r["case"], r["kind"],
             f"{r['leaky']['pin']} -> {verdict(r['leaky'])}",
             f"{r['fixed']['pin']} -> {verdict(r['fixed'])}",
             "yes" if r["ok"] else "NO"] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    print(line(head))
    print(line(["-" * w for w in widths]))
    for cells in body:
        print(line(cells))
    for r in rows:
        for side in ("leaky", "fixed"):
            res = r[side]
            if res["error"]:
                print(f"\n[{r['case']} {res['pin']}] {res['error']}")
            for leak in res["leaks"]:
                per_run = " ".join(f"{v:+d}" for v in (leak.get("per_run") or []))
                print(f"  {r['case']} {res['pin']}: {leak['kind']}: {leak['summary']}"
                      + (f" [per run: {per_run}]" if per_run else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="CASE",
                        help="run only this case (repeatable)")
    parser.add_argument("--workdir", default="/tmp/leakguard-cases")
    parser.add_argument("--jobs", type=int, default=1, help="cases run in parallel (max 2)")
    args = parser.parse_args(argv)
    workdir = os.path.abspath(args.workdir)
    os.makedirs(workdir, exist_ok=True)
    cases = find_cases(args.only)
    jobs = max(1, min(args.jobs, 2))
    rows: dict[str, dict] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(run_case, c, workdir): c["name"] for c in cases}
        for fut in concurrent.futures.as_completed(futures):
            row = fut.result()
            rows[row["case"]] = row
            print(f"done {row['case']}: leaky {verdict(row['leaky'])}, "
                  f"fixed {verdict(row['fixed'])}", file=sys.stderr, flush=True)
    ordered = [rows[c["name"]] for c in cases]
    with open(os.path.join(workdir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(ordered, handle, indent=2)
    print_table(ordered)
    return 0 if all(r["ok"] for r in ordered) else 1


if __name__ == "__main__":
    sys.exit(main())
