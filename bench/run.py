#!/usr/bin/env python3
"""Wall-time benchmark of pytest-leakguard against plain pytest and pytest-memray.

    python bench/run.py [--quick] [--reps N] [--only N,N] [--json PATH] [--profile]
                        [--instructions] [--phases] [--control] [--keep]
    python bench/run.py --pool RUN.json [RUN.json ...]

Each figure compares two pytest processes over a throwaway suite written to a
temporary directory.  Both sides of a comparison load the same plugins (the
unrelated ones are disabled with ``-p no:...``); only the flag differs, so the
ratio is what a user pays for switching the check on:

1. memory check: 40 marked tests under ``--leakguard`` (3 warm-up + 5 measured
   runs each) vs plain pytest running each test 8 times (parametrize), so both
   sides execute the same test bodies the same number of times;
2. heap independence: figure 1 with a session-scoped fixture holding 10k, then
   1M, extra GC-tracked objects; the per-test overhead must not follow the heap;
3. pytest-memray's ``limit_leaks`` (one tracked run per test) vs plain, for reference;
4. resource checks: 300 tiny unmarked tests under ``--leakguard`` vs plain;
5. the same on 300 quick tests that do a little work each (a reference).

Configurations are interleaved, forwards then backwards (A B, B A, ...),
each in every place of its block in turn (figure 0's three runs go through
all six orders), so that machine drift and the order of the runs hit every
side alike; each is run once unmeasured first (bytecode, page cache).  The medians of the
measured wall times are reported, and each ratio is the median of the
repetitions' own ratios: a repetition's two runs ran next to each other,
so a slow spell of the machine slows both (a ratio of the two medians is
shown too).  Each ratio has a 95% interval, bootstrap over the repetitions.
``--control`` adds figure 0, plain pytest against itself on figure 4's
suite: how far from 1.00x the machine's noise alone moves a ratio.

Wall time on a shared machine is noisy: on the 2-core VMs this was tuned on,
single runs of the same suite vary by a quarter.  ``--instructions`` adds a
figure that does not vary: the instructions each configuration executes,
counted once by valgrind's cachegrind (when valgrind is installed).
``--phases`` says where the wall time goes: each configuration is run again
``--reps`` times with ``bench/phase_clock.py``, which stamps the phases of the
run (start-up, configuration, collection, the test loop, the end, the exit).
``--pool`` runs nothing: it prints the table over the repetitions of several
earlier runs' ``--json`` dumps, each run's pairs kept together (the README's
pooled figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
#: (phase, stamp it starts at, stamp it ends at), from bench/phase_clock.py's
#: stamps; "started" and "ended" are the bench's own, around the process.
PHASES = (
    ("interpreter and pytest start-up", "started", "imported"),
    ("plugins loaded and configured", "imported", "configured"),
    ("session start and collection", "configured", "collected"),
    ("test loop", "loop_started", "loop_ended"),
    ("session end and summary", "loop_ended", "unconfigured"),
    ("atexit callbacks and interpreter exit", "unconfigured", "ended"),
)

RUNS_PER_TEST = 8  # leakguard's default: 3 warm-up + 5 measured runs
CHECKED_TESTS = 40
TINY_TESTS = 300
SMALL_HEAP = 10_000
LARGE_HEAP = 1_000_000
TIMEOUT_S = 150
# Per-test overheads under this (ms) are within the run-to-run noise of the
# heap figure (a few hundredths of a second over 40 tests).
NOISE_MS = 1.0
# Resamples of the bootstrap interval (seeded: the same times, the same interval).
BOOTSTRAP = 2000

# Plugins installed in the venv that have nothing to do with the measurement;
# each costs import time at startup and hook calls per test.
UNRELATED_PLUGINS = (
    "randomly",
    "asyncio",
    "xdist",
    "xdist.looponfail",
    "rerunfailures",
    "repeat",
    "hypothesispytest",
    "platformdirs",
)
BASE_ARGS = ("-m", "pytest", "-p", "no:cacheprovider", "-q")


# --------------------------------------------------------------------------- suites

CONFTEST_HEAP = '''\
import gc

import pytest


@pytest.fixture(scope="session", autouse=True)
def _ballast():
    """{n} live GC-tracked objects: a dict and a list per entry.

    Built with the collector off: the collections a million allocations
    trigger take a varying share of a second, noise on both sides.
    """
    gc.disable()
    try:
        heap = [{{"i": i, "tags": [i]}} for i in range({n} // 2)]
    finally:
        gc.enable()
    yield heap
'''

CHECKED_MODULES: dict[str, str] = {
    "test_dicts.py": """\
def test_build_dicts_{i}({args}):
    rows = [{{"id": n, "name": f"user-{{n}}", "tags": ["a", "b"]}} for n in range({size})]
    index = {{row["id"]: row for row in rows}}
    by_tag = {{}}
    for row in rows:
        for tag in row["tags"]:
            by_tag.setdefault(tag, []).append(row["id"])
    assert len(index) == {size} and len(by_tag["a"]) == {size}
""",
    "test_json.py": """\
def test_json_roundtrip_{i}({args}):
    payload = {{"items": [{{"k": n, "v": [n, n * 2], "s": str(n)}} for n in range({size})]}}
    text = json.dumps(payload, sort_keys=True)
    assert json.loads(text) == payload
""",
    "test_class.py": """\
def test_small_class_{i}({args}):
    points = [Point(n, n + 1) for n in range({size})]
    total = sum(p.norm1() for p in points)
    assert total == sum(2 * n + 1 for n in range({size}))
    assert repr(points[-1]).startswith("Point(")
""",
    "test_format.py": """\
def test_string_format_{i}({args}):
    lines = ["{{:>8}} | {{:<12}} | {{:.2f}}".format(n, f"name{{n}}", n / 3) for n in range({size})]
    text = "\\n".join(lines)
    assert text.count("|") == 2 * {size} and text.upper() != text
""",
}

MODULE_HEADERS: dict[str, str] = {
    "test_json.py": "import json\n",
    "test_class.py": """\
class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm1(self):
        return abs(self.x) + abs(self.y)

    def __repr__(self):
        return f"Point({self.x}, {self.y})"
""",
}

TINY_BODIES = (
    "    assert {i} + 1 == {j}\n",
    "    assert str({i}).zfill(4).endswith(str({i}))\n",
    "    assert len([{i}, {j}]) == 2\n",
    '    assert {{"k": {i}}}["k"] == {i}\n',
)


def write_checked_suite(root: Path, *, repeat: int, marker: str, heap: int) -> Path:
    """Write the 40 realistic tests, each run ``repeat`` times by parametrize.

    ``repeat == 1`` is the leakguard side (the plugin repeats); ``repeat == 8``
    is the plain side, doing the same work through pytest itself.
    """
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")  # pins rootdir; no repo config
    if heap:
        (root / "conftest.py").write_text(CONFTEST_HEAP.format(n=heap))
    per_module = CHECKED_TESTS // len(CHECKED_MODULES)
    for name, template in CHECKED_MODULES.items():
        parts = ["import pytest\n", MODULE_HEADERS.get(name, ""), "\n"]
        for i in range(per_module):
            if marker:
                parts.append(f"@pytest.mark.{marker}\n")
            if repeat > 1:
                parts.append(f'@pytest.mark.parametrize("_rep", range({repeat}))\n')
            args = "_rep" if repeat > 1 else ""
            parts.append(template.format(i=i, args=args, size=20 + 15 * i) + "\n\n")
        (root / name).write_text("".join(parts))
    return root


# Quick tests that do some work, as unit tests of a backend do: half a
# millisecond to a millisecond each here (serialisation, an in-memory
# database, sorting, small objects), against pytest's own ~0.5 ms per test.
QUICK_HEADER = "import json\nimport sqlite3\nfrom contextlib import closing\n\n\n"
QUICK_BODIES = (
    "    rows = [{{'id': n, 'name': f'user{{n}}', 'tags': ['a', 'b']}} for n in range({n})]\n"
    "    assert json.loads(json.dumps(rows)) == rows\n",
    "    with closing(sqlite3.connect(':memory:')) as db:\n"
    "        db.execute('create table t (x integer)')\n"
    "        db.executemany('insert into t values (?)', [(k,) for k in range({n})])\n"
    "        assert db.execute('select count(*) from t').fetchone()[0] == {n}\n",
    "    words = [f'{{k:05d}}-{{k * 7 % 13}}' for k in range({n} * 6)]\n"
    "    assert sorted(words)[0] == '00000-0'\n",
    "    points = [complex(k, -k) for k in range({n} * 4)]\n"
    "    assert sum(abs(p) for p in points) > 0\n",
)


def write_quick_suite(root: Path) -> Path:
    """Write 300 unmarked tests that do a little work each (see QUICK_BODIES).

    The resource check's cost per test is the same as on the tiny suite;
    this figure shows what it adds to tests that do something.
    """
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    per_module = 30
    for m in range(TINY_TESTS // per_module):
        parts = [QUICK_HEADER]
        for k in range(per_module):
            i = m * per_module + k
            body = QUICK_BODIES[i % len(QUICK_BODIES)].format(n=200 + i % 50)
            parts.append(f"def test_quick_{i}():\n{body}\n\n")
        (root / f"test_quick_{m:02d}.py").write_text("".join(parts))
    return root


def write_tiny_suite(root: Path) -> Path:
    """Write 300 unmarked tests whose bodies cost next to nothing.

    Their run time is pytest's own per-test cost, so any per-test work of the
    resource check shows at full magnification.
    """
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    per_module = 30
    for m in range(TINY_TESTS // per_module):
        parts = []
        for k in range(per_module):
            i = m * per_module + k
            body = TINY_BODIES[i % len(TINY_BODIES)].format(i=i, j=i + 1)
            parts.append(f"def test_tiny_{i}():\n{body}\n\n")
        (root / f"test_tiny_{m:02d}.py").write_text("".join(parts))
    return root


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class Config:
    """One pytest invocation: where it runs, its flags, how many tests must pass."""

    key: str
    cwd: Path
    flags: tuple[str, ...]
    passed: int

    def argv(self) -> list[str]:
        return [sys.executable, *BASE_ARGS, *self.flags]


@dataclass(frozen=True)
class Comparison:
    """Two configurations that differ only in the check being switched on."""

    name: str
    baseline: Config
    checked: Config
    tests: int
    target: str


def plugin_flags(*, memray: bool) -> tuple[str, ...]:
    """``-p no:...`` for the unrelated plugins; memray stays only where it is compared."""
    names = UNRELATED_PLUGINS if memray else (*UNRELATED_PLUGINS, "memray")
    return tuple(arg for name in names for arg in ("-p", f"no:{name}"))


def clean_env(pycache: Path) -> dict[str, str]:
    """The caller's environment minus what would change the inner pytest's config.

    Bytecode is cached (in ``pycache``, outside the repo) as on a developer's
    machine: with ``PYTHONDONTWRITEBYTECODE`` every run would recompile the
    plugin and re-rewrite the test modules, a fixed cost that flatters ratios.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    for name in ("PYTHONWARNINGS", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_once(config: Config, env: dict[str, str], extra: tuple[str, ...] = ()) -> float:
    """Run one inner pytest and return its wall time; a failed run aborts the bench."""
    start = time.perf_counter()
    proc = subprocess.run(
        [*config.argv(), *extra],
        cwd=config.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or f"{config.passed} passed" not in proc.stdout:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-25:])
        sys.exit(
            f"{config.key}: exit {proc.returncode}, expected "
            f"'{config.passed} passed'\n$ {shlex.join(config.argv())}\n{tail}"
        )
    return elapsed


def count_instructions(config: Config, env: dict[str, str]) -> int | None:
    """Instructions one run of ``config`` executes (valgrind's cachegrind).

    A fixed hash seed makes the count repeat to within a few thousand; None
    when valgrind is missing or the run fails under it.
    """
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None
    proc = subprocess.run(
        [
            valgrind,
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            *config.argv(),
        ],
        cwd=config.cwd,
        env={**env, "PYTHONHASHSEED": "0"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S * 40,  # valgrind runs Python about 20 times slower
        check=False,
    )
    found = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        return None
    return int(found.group(1).replace(",", ""))


def print_instructions(comparisons: list[Comparison], env: dict[str, str]) -> None:
    """One cachegrind run per configuration: the overhead without the noise."""
    if shutil.which("valgrind") is None:
        print("\ninstructions: valgrind is not installed, skipped")
        return
    print("\ninstructions executed (cachegrind, one run each, PYTHONHASHSEED=0):")
    for comp in comparisons:
        base = count_instructions(comp.baseline, env)
        checked = count_instructions(comp.checked, env)
        if base is None or checked is None:
            print(f"  {comp.name:<34} failed under valgrind")
            continue
        print(
            f"  {comp.name:<34} {base / 1e6:9.1f} M -> {checked / 1e6:9.1f} M"
            f" = {checked / base:.3f}x ({(checked - base) / comp.tests / 1e3:+.0f} k per test,"
            " start-up included)"
        )


def measure(
    blocks: list[list[Config]], reps: int, env: dict[str, str]
) -> dict[str, list[float]]:
    """Time every configuration ``reps`` times, interleaved, after one unmeasured run."""
    configs = [config for block in blocks for config in block]
    for config in configs:
        run_once(config, env)
    times: dict[str, list[float]] = {c.key: [] for c in configs}
    for rep in range(reps):
        for config in in_turn(blocks, rep):
            times[config.key].append(run_once(config, env))
        print(f"  rep {rep + 1}/{reps} done", file=sys.stderr, flush=True)
    return times


def in_blocks(comparisons: list[Comparison]) -> list[list[Config]]:
    """Every configuration once, in blocks: the configurations of comparisons
    that share one (figure 0's plain pytest run again, plain pytest, figure
    4's leakguard run) form one block, so that each is run next to those it
    is compared with."""
    blocks: list[list[Config]] = []
    for comp in comparisons:
        control = comp.name.startswith("0 ")
        pair = (
            (comp.checked, comp.baseline) if control else (comp.baseline, comp.checked)
        )
        keys = {config.key for config in pair}
        block = next((b for b in blocks if keys & {c.key for c in b}), None)
        if block is None:
            block = []
            blocks.append(block)
        block.extend(c for c in pair if c.key not in {b.key for b in block})
    return blocks


def in_turn(blocks: list[list[Config]], rep: int) -> list[Config]:
    """The order of one repetition: the blocks forwards, then backwards
    (A B, B A, ...), and within a block each configuration in each place
    in turn (a block of three goes through all six orders in six
    repetitions).

    A run can be slowed or sped up by the one just before it (the page
    cache, the CPU's clock, memory the kernel has not reclaimed yet) or by
    its place in the repetition; with a fixed order that would always favour
    the same configuration.
    """
    forwards = rep % 2 == 0
    shift = rep // 2
    order: list[Config] = []
    for block in blocks if forwards else blocks[::-1]:
        turned = block[shift % len(block) :] + block[: shift % len(block)]
        order.extend(turned if forwards else turned[::-1])
    return order


def measure_phases(
    blocks: list[list[Config]], reps: int, env: dict[str, str], stamps: Path
) -> dict[str, list[dict[str, float]]]:
    """Run every configuration ``reps`` times more, interleaved, with the
    phase clock loaded; return each run's phase durations (seconds)."""
    clock_env = {
        **env,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(BENCH_DIR), env.get("PYTHONPATH", "")) if p
        ),
        "LEAKGUARD_BENCH_CLOCK": str(stamps),
    }
    found: dict[str, list[dict[str, float]]] = {
        c.key: [] for block in blocks for c in block
    }
    for rep in range(reps + 1):  # the first round unmeasured, as in measure()
        for config in in_turn(blocks, rep):
            started = time.monotonic()
            run_once(config, clock_env, ("-p", "phase_clock"))
            ended = time.monotonic()
            if rep:
                taken = json.loads(stamps.read_text())
                found[config.key].append(durations(started, taken, ended))
    return found


def durations(
    started: float, stamps: dict[str, float], ended: float
) -> dict[str, float]:
    """Seconds per phase of :data:`PHASES`, the whole run under "total"."""
    every = {**stamps, "started": started, "ended": ended}
    result = {name: every[end] - every[start] for name, start, end in PHASES}
    result["total"] = ended - started
    return result


def print_phases(
    comparisons: list[Comparison], phases: dict[str, list[dict[str, float]]]
) -> None:
    """Median milliseconds per phase on both sides, and their difference
    (medians of the parts need not add up to the median of the whole)."""
    print("\nwhere the wall time goes (median ms per phase, bench/phase_clock.py):")
    for comp in comparisons:
        plain, checked = phases[comp.baseline.key], phases[comp.checked.key]
        print(f"  {comp.name} ({len(plain)} runs each)")
        print(f"    {'phase':<40} {'plain':>8} {'checked':>8} {'diff':>8}")
        for name in [p[0] for p in PHASES] + ["total"]:
            base = statistics.median(run[name] for run in plain) * 1e3
            other = statistics.median(run[name] for run in checked) * 1e3
            print(f"    {name:<40} {base:8.1f} {other:8.1f} {other - base:+8.1f}")
        loop = [
            statistics.median(run["test loop"] for run in side)
            for side in (plain, checked)
        ]
        print(
            f"    test loop per test: {(loop[1] - loop[0]) / comp.tests * 1e6:+.1f} us"
        )


# --------------------------------------------------------------------------- setup


def build(tmp: Path) -> list[Comparison]:
    """Write every suite and pair up the configurations of the four figures."""
    lg, mem = plugin_flags(memray=False), plugin_flags(memray=True)
    n = CHECKED_TESTS
    x8 = n * RUNS_PER_TEST
    runs = ("--leakguard-warmup=3", f"--leakguard-runs={RUNS_PER_TEST - 3}")
    comparisons = []
    for label, heap in (("", 0), ("10k", SMALL_HEAP), ("1M", LARGE_HEAP)):
        once = write_checked_suite(
            tmp / f"checked{label}", repeat=1, marker="leakguard", heap=heap
        )
        many = write_checked_suite(
            tmp / f"plain8{label}", repeat=RUNS_PER_TEST, marker="leakguard", heap=heap
        )
        name = f"2 heap +{label} objects" if label else "1 memory check (40 x 8 runs)"
        target = "<= 1.3x" if not label else "-"
        comparisons.append(
            Comparison(
                name=name,
                baseline=Config(f"plain8{label}", many, lg, x8),
                checked=Config(
                    f"leakguard{label}", once, (*lg, "--leakguard", *runs), n
                ),
                tests=n,
                target=target,
            )
        )
    plain1 = write_checked_suite(tmp / "plain1", repeat=1, marker="", heap=0)
    memray = write_checked_suite(
        tmp / "memray", repeat=1, marker='limit_leaks("1 MB")', heap=0
    )
    comparisons.append(
        Comparison(
            name="3 memray limit_leaks (40 x 1 run)",
            baseline=Config("memray-plain1", plain1, mem, n),
            checked=Config("memray", memray, (*mem, "--memray"), n),
            tests=n,
            target="ref",
        )
    )
    # Figure 0 (``--control``): plain pytest against itself on figure 4's
    # suite, the noise any ratio of this machine carries.
    tiny = tmp / "tiny"
    comparisons.append(
        Comparison(
            name="0 control: plain vs plain (300 tiny)",
            baseline=Config("tiny-plain", tiny, lg, TINY_TESTS),
            checked=Config("tiny-plain-again", tiny, lg, TINY_TESTS),
            tests=TINY_TESTS,
            target="1.00x",
        )
    )
    # Figures 4 and 5: the resource check alone, keys "<kind>-plain" and
    # "<kind>-leakguard" (the profile option looks up "tiny-leakguard").
    for number, kind, write, target in (
        (4, "tiny", write_tiny_suite, "<= 1.10x"),
        (5, "quick", write_quick_suite, "ref"),
    ):
        suite = write(tmp / kind)  # "tiny" is figure 0's suite too
        comparisons.append(
            Comparison(
                name=f"{number} resource checks (300 {kind})",
                baseline=Config(f"{kind}-plain", suite, lg, TINY_TESTS),
                checked=Config(
                    f"{kind}-leakguard", suite, (*lg, "--leakguard"), TINY_TESTS
                ),
                tests=TINY_TESTS,
                target=target,
            )
        )
    return comparisons


# --------------------------------------------------------------------------- report


def paired_ratio(baseline: list[float], checked: list[float]) -> float | None:
    """The median of the repetitions' own ratios, ``checked[i] / baseline[i]``.

    The two runs of one repetition ran next to each other (see
    :func:`in_turn`), on the same machine in the same state; a ratio of
    medians compares runs that saw different states, so the machine's slow
    drifts (another VM on the host, the CPU's clock) land in it as noise.
    Plain pytest against itself (``--control``) shows the difference.
    """
    count = min(len(baseline), len(checked))
    if count == 0:
        return None
    return statistics.median(checked[i] / baseline[i] for i in range(count))


def ratio_interval(
    baseline: list[float], checked: list[float]
) -> tuple[float, float] | None:
    """95% bootstrap interval of :func:`paired_ratio`.

    Repetitions are resampled whole (one index for both sides): a
    repetition's two runs stay a pair.
    """
    count = min(len(baseline), len(checked))
    if count < 3:
        return None
    rng = random.Random(0)
    pairs = [checked[i] / baseline[i] for i in range(count)]
    ratios = sorted(
        statistics.median(pairs[rng.randrange(count)] for _ in range(count))
        for _ in range(BOOTSTRAP)
    )
    return ratios[int(0.025 * BOOTSTRAP)], ratios[int(0.975 * BOOTSTRAP) - 1]


def figures(
    comparisons: list[Comparison], times: dict[str, list[float]]
) -> list[dict[str, Any]]:
    """Medians, ratios and per-test overheads, plus the derived heap figure."""
    rows: list[dict[str, Any]] = []
    for comp in comparisons:
        base_times, checked_times = times[comp.baseline.key], times[comp.checked.key]
        base = statistics.median(base_times)
        checked = statistics.median(checked_times)
        ratio = paired_ratio(base_times, checked_times) or checked / base
        rows.append(
            {
                "name": comp.name,
                "baseline_s": base,
                "checked_s": checked,
                "ratio": ratio,
                "ratio_of_medians": checked / base,
                "interval": ratio_interval(base_times, checked_times),
                "overhead_ms_per_test": (checked - base) / comp.tests * 1e3,
                "target": comp.target,
                "met": {"<= 1.3x": ratio <= 1.3, "<= 1.10x": ratio <= 1.10}.get(
                    comp.target
                ),
            }
        )
    heap = {
        h: next((r for r in rows if r["name"].startswith(f"2 heap +{h}")), None)
        for h in ("10k", "1M")
    }
    small, large = heap["10k"], heap["1M"]
    if small is None or large is None:  # --only without figure 2
        return rows
    small_ms, large_ms = small["overhead_ms_per_test"], large["overhead_ms_per_test"]
    # Once the overhead is down to the timing noise, a ratio of two noises
    # says nothing: below NOISE_MS per test the target is an absolute one.
    heap_ratio = large_ms / small_ms if small_ms > NOISE_MS else None
    rows.insert(
        3,
        {
            "name": "2 heap: overhead 1M vs 10k",
            "baseline_s": None,
            "checked_s": None,
            "ratio": heap_ratio,
            "interval": None,
            "overhead_ms_per_test": large_ms - small_ms,
            "target": "<= 1.5x",
            "met": large_ms <= max(1.5 * small_ms, small_ms + NOISE_MS),
        },
    )
    return rows


def fmt(value: float | None, spec: str) -> str:
    """Format a figure, or a right-aligned dash where a row has none."""
    width = int(spec.split(".")[0])
    return "-".rjust(width) if value is None else format(value, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    """One table, baseline and checked side by side; the ratio column is the verdict."""
    header = (
        f"{'figure':<38} {'plain s':>8} {'checked s':>9} {'ratio':>7} "
        f"{'95% interval':>13} {'medians':>8} {'ms/test':>8} {'target':>8} {'met':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        low_high = r.get("interval")
        interval = f"{low_high[0]:.3f}-{low_high[1]:.3f}x" if low_high else "-"
        medians = r.get("ratio_of_medians")
        print(
            f"{r['name']:<38} {fmt(r['baseline_s'], '8.3f')} "
            f"{fmt(r['checked_s'], '9.3f')} {fmt(r['ratio'], '6.3f')}{'x' if r['ratio'] is not None else ' '} "
            f"{interval:>13} {fmt(medians, '7.3f')}{'x' if medians is not None else ' '} "
            f"{fmt(r['overhead_ms_per_test'], '8.2f')} {r['target']:>8} {met:>4}"
        )
    print(
        "ratio: the median of the repetitions' own ratios (each repetition's two runs "
        "ran next to each other); 95% interval: bootstrap over the repetitions; "
        "medians: median(checked) / median(plain), for comparison with earlier "
        "tables (the target is judged on the ratio itself).\n"
        "ms/test = (checked - plain) / tests, over all 8 runs of a checked test; "
        "memray's is over its single run.\n"
        f"heap row: ms/test = overhead at 1M minus overhead at 10k; met when the 1M "
        f"overhead is within 1.5x of the 10k one, or within {NOISE_MS} ms/test of it "
        "when that one is below the noise (then no ratio is shown)."
    )


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def environment() -> dict[str, str]:
    versions = {"python": platform.python_version(), "nproc": str(nproc())}
    if hasattr(os, "getloadavg"):  # a busy machine explains a noisy table
        versions["load"] = f"{os.getloadavg()[0]:.1f}"
    for dist in ("pytest", "pytest-leakguard", "pytest-memray", "memray"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "missing"
    return versions


def print_commands(comparisons: list[Comparison]) -> None:
    """The exact inner commands, so any figure can be reproduced by hand."""
    print(
        "\nCommands (cwd = suite dir under the temp root; env: PYTEST_* and "
        "PYTHONDONTWRITEBYTECODE unset, PYTHONPYCACHEPREFIX=<temp root>/pycache):"
    )
    for comp in comparisons:
        for config in (comp.baseline, comp.checked):
            argv = ["python", *config.argv()[1:]]
            print(f"  [{config.key}] (cd {config.cwd.name}) {shlex.join(argv)}")


def profile(config: Config, out: Path, env: dict[str, str], top: int = 14) -> None:
    """cProfile one inner run and print where the plugin's time goes.

    Only run on request: profiling roughly doubles the time of the run it covers.
    """
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), *config.argv()[1:]]
    subprocess.run(
        argv,
        cwd=config.cwd,
        env=env,
        capture_output=True,
        timeout=TIMEOUT_S * 2,
        check=False,
    )
    stats = pstats.Stats(str(out))
    entries = stats.stats  # type: ignore[attr-defined]  # {(file, line, func): (cc, nc, tt, ct, callers)}
    total = max(ct for _, _, _, ct, _ in entries.values())
    print(f"\nProfile of [{config.key}] ({total:.2f} s profiled):")
    print("  top by own time (any code):")
    for (file, line, func), (_, nc, tt, ct, _) in sorted(
        entries.items(), key=lambda kv: -kv[1][2]
    )[:top]:
        print(
            f"    {tt:7.3f}s own {ct:7.3f}s cum {nc:>8} calls  {short(file)}:{line} {func}"
        )
    print("  top pytest_leakguard functions by cumulative time:")
    own = [(k, v) for k, v in entries.items() if "pytest_leakguard" in k[0]]
    for (file, line, func), (_, nc, tt, ct, _) in sorted(own, key=lambda kv: -kv[1][3])[
        :top
    ]:
        print(
            f"    {ct:7.3f}s cum {tt:7.3f}s own {nc:>8} calls  {short(file)}:{line} {func}"
        )


def short(file: str) -> str:
    marker = "pytest_leakguard"
    return file[file.index(marker) :] if marker in file else Path(file).name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: 1 repetition")
    parser.add_argument(
        "--reps", type=int, help="repetitions per configuration (default 5)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also dump the figures"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="cProfile one leakguard run of figures 1, 2 (1M) and 4",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each configuration's instructions once (valgrind)",
    )
    parser.add_argument(
        "--phases",
        action="store_true",
        help="also time each run's phases (--reps more runs per configuration)",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also run figure 0, plain pytest against itself: the machine's noise",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated suites")
    parser.add_argument(
        "--pool",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="run nothing: print the figures of earlier --json dumps' runs together",
    )
    parser.add_argument(
        "--only",
        metavar="N,N",
        help="run only these figures, by number (e.g. 4,5); the heap row needs 2",
    )
    args = parser.parse_args(argv)
    if args.reps is None:
        args.reps = 1 if args.quick else 5
    return args


def pooled_times(paths: list[Path]) -> dict[str, list[float]]:
    """Every configuration's wall times from several ``--json`` dumps, run
    after run, so that each repetition's pair stays a pair.

    :raises SystemExit: naming a file that is not such a dump.
    """
    times: dict[str, list[float]] = {}
    for path in paths:
        try:
            dumped = json.loads(path.read_text())["times_s"]
            runs = {str(k): [float(t) for t in v] for k, v in dumped.items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SystemExit(
                f"bench: cannot pool {path}: not a --json dump ({exc!r})"
            ) from None
        for key, values in runs.items():
            times.setdefault(key, []).extend(values)
    return times


def print_pooled(paths: list[Path], tmp: Path) -> None:
    """The table over the repetitions of several runs (``--pool``)."""
    times = pooled_times(paths)
    comparisons = [
        c
        for c in build(tmp)
        if len(times.get(c.baseline.key, ())) == len(times.get(c.checked.key, ())) > 0
    ]
    if not comparisons:
        raise SystemExit("bench: the dumps hold no figure measured on both sides")
    pairs = {len(times[c.baseline.key]) for c in comparisons}
    print(
        f"{len(paths)} runs pooled: {'/'.join(map(str, sorted(pairs)))} pairs per figure\n"
    )
    print_table(figures(comparisons, times))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="leakguard-bench-"))
    try:
        if args.pool:
            print_pooled(args.pool, tmp)
            return 0
        comparisons = build(tmp)
        if args.only:
            wanted = tuple(f"{n.strip()} " for n in args.only.split(","))
            wanted += ("0 ",) if args.control else ()
            comparisons = [c for c in comparisons if c.name.startswith(wanted)]
        if not args.control:
            comparisons = [c for c in comparisons if not c.name.startswith("0 ")]
        blocks = in_blocks(comparisons)
        configs = [config for block in blocks for config in block]
        versions = environment()
        print("  ".join(f"{k} {v}" for k, v in versions.items()))
        print(
            f"{args.reps} repetition(s) per configuration, median wall time, "
            f"{len(configs)} configurations interleaved\n",
            flush=True,
        )
        start = time.perf_counter()
        env = clean_env(tmp / "pycache")
        times = measure(blocks, args.reps, env)
        rows = figures(comparisons, times)
        print_table(rows)
        if args.instructions:
            print_instructions(comparisons, env)
        phases = None
        if args.phases:
            phases = measure_phases(blocks, args.reps, env, tmp / "stamps.json")
            print_phases(comparisons, phases)
        print_commands(comparisons)
        print(f"\nbench wall time {time.perf_counter() - start:.1f} s")
        if args.json:
            commands = {
                c.key: {"cwd": c.cwd.name, "argv": c.argv()[1:]} for c in configs
            }
            args.json.write_text(
                json.dumps(
                    {
                        "environment": versions,
                        "reps": args.reps,
                        "figures": rows,
                        "times_s": times,
                        "phases_s": phases,
                        "commands": commands,
                    },
                    indent=2,
                )
            )
        if args.profile:
            by_key = {c.key: c for c in configs}
            for key in ("leakguard", "leakguard1M", "tiny-leakguard"):
                profile(by_key[key], tmp / f"{key}.prof", env)
    finally:
        if args.keep:
            print(f"suites kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
