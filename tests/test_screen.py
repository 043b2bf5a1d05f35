"""The screen: clean tests are judged on cheap counters, growth is traced."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_leakguard.counters import HeapCounters
from pytest_leakguard.verdict import Policy, screen

pytestmark = pytest.mark.skipif(
    not HeapCounters().available,
    reason="no heap counters on this platform: every run is traced",
)


@pytest.mark.parametrize(
    ("objects", "malloc", "blocks", "suspect"),
    [
        ([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], 0, []),
        # one-off noise: a single run grew
        ([0, 0, 0, 0, 0, 0], [0, 0, 0, 1104, 1104, 1104], 0, []),
        ([0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 0, 0], 0, []),
        ([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], 2, ["blocks"]),
        ([0, 0, 0, 0, 0, 0], [0, 96, 192, 192, 288, 288], 0, ["malloc"]),
        ([0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 0, 0], 0, ["objects"]),
        ([0, 1, 2, 3, 4, 5], [0, 0, 0, 0, 0, 0], 10, ["objects", "blocks"]),
    ],
)
def test_the_screen_names_the_counters_that_grew(
    objects: list[int], malloc: list[int], blocks: int, suspect: list[str]
) -> None:
    reasons = screen(objects, malloc, blocks, Policy())

    assert [reason.split(" ")[0] for reason in reasons] == suspect


@given(st.lists(st.integers(-1000, 1000), min_size=3, max_size=15), st.data())
def test_growth_the_traced_rule_would_judge_always_reaches_it(
    steps: list[int], data: st.DataObject
) -> None:
    """Growth on two runs in three (what the rule needs to look further) is never screened out."""
    grown = [abs(s) + 1 for s in steps]
    counter = data.draw(st.sampled_from(["objects", "malloc"]))
    cumulative = [0]
    for step in grown:
        cumulative.append(cumulative[-1] + step)
    flat = [0] * len(cumulative)
    if counter == "objects":
        assert screen(cumulative, flat, 0, Policy())
    else:
        assert screen(flat, cumulative, 0, Policy())


def test_the_readings_take_no_memory_of_their_own() -> None:
    """Storing a reading allocates nothing: a clean stretch reads as flat.

    In a fresh interpreter: a worker's other threads (xdist's) allocate too.
    """
    script = (
        "from pytest_leakguard.counters import HeapCounters, ScreenReadings\n"
        "from pytest_leakguard.verdict import Policy, screen\n"
        "counters, readings = HeapCounters(), ScreenReadings(6)\n"
        "for _ in range(6):\n"
        "    readings.record(counters, 0)\n"
        "assert readings.complete\n"
        "print(readings.blocks_growth(), readings.malloc_bytes())\n"
        "assert readings.blocks_growth() == 0\n"
        "assert screen(readings.objects(), readings.malloc_bytes(), 0, Policy()) == []\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_counters_see_a_large_buffer_and_small_objects() -> None:
    # The block count is process-wide: a collection triggered by the
    # allocations below, or xdist's I/O thread, may free a few blocks meanwhile
    # (CI once saw 999 of 1000), so the collector is paused and the objects
    # outnumber the threshold twice over.
    counters = HeapCounters()
    gc.disable()
    try:
        malloc_before, blocks_before = counters.malloc_bytes(), counters.blocks()
        kept = [bytes(200_000), *[object() for _ in range(2000)]]

        assert counters.malloc_bytes() - malloc_before >= 200_000
        assert counters.blocks() - blocks_before >= 1000
        del kept
    finally:
        gc.enable()


CLEAN_AND_LEAKY = """
    import array, collections, itertools, pytest

    _blobs = []
    _texts = []
    _floats = array.array("d")
    _ids = itertools.count()
    recent = collections.deque(maxlen=12)

    @pytest.mark.leakguard
    def test_clean():
        rows = [{"id": n, "name": f"user-{n}"} for n in range(200)]
        assert len({r["id"] for r in rows}) == 200

    @pytest.mark.leakguard
    def test_full_deque_turning_over():
        recent.append([next(_ids)])

    @pytest.mark.leakguard
    def test_large_bytes_kept():
        _blobs.append(("x%d" % next(_ids) * 500).encode())

    @pytest.mark.leakguard
    def test_large_strings_kept():
        _texts.append("y%d" % next(_ids) * 300)

    @pytest.mark.leakguard
    def test_array_extended():
        _floats.extend([1.0] * 40)
"""


def _memory_by_test(path: str) -> dict[str, dict]:  # type: ignore[type-arg]
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    return {t["nodeid"].split("::")[-1]: t for t in document["tests"]}


def test_clean_tests_are_judged_on_counters_and_leaks_on_traced_runs(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(CLEAN_AND_LEAKY)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-v", "--leakguard-json=report.json", "-p", "no:randomly"
    )

    result.assert_outcomes(passed=2, failed=3)
    tests = _memory_by_test(str(leakguard_pytester.path / "report.json"))
    clean = tests["test_clean"]["memory"]
    assert clean["method"] == "counters"
    assert clean["bytes_per_run"] == []
    assert clean["blocks_growth"] == 0
    assert not tests["test_full_deque_turning_over"]["leaked"]
    for name in (
        "test_large_bytes_kept",
        "test_large_strings_kept",
        "test_array_extended",
    ):
        memory = tests[name]["memory"]
        assert tests[name]["leaked"], name
        assert memory["method"] == "traced"
        assert memory["objects_per_run"][-1] == 0  # bytes only: no object grew
        assert any("counters grew without tracing" in note for note in memory["notes"])
    result.stdout.fnmatch_lines(
        [
            "*note: *test_large_bytes_kept: counters grew without tracing (*malloc bytes +*): measured again, traced"
        ]
    )


@pytest.mark.parametrize(
    "how",
    ["--leakguard-tracing=always", "ini", "marker"],
)
def test_tracing_always_traces_every_measured_run(
    leakguard_pytester: pytest.Pytester, how: str
) -> None:
    marker = (
        "@pytest.mark.leakguard(tracing='always')"
        if how == "marker"
        else "@pytest.mark.leakguard"
    )
    leakguard_pytester.makepyfile(
        f"""
        import pytest

        _s = [""]

        {marker}
        def test_small_string_growing_in_place():
            _s[0] = _s[0] + "z" * 100
        """
    )
    if how == "ini":
        leakguard_pytester.makeini(
            "[pytest]\nasyncio_default_fixture_loop_scope = function\nleakguard_tracing = always\n"
        )
    args = ["--leakguard", "--leakguard-json=report.json"]
    if how.startswith("--"):
        args.append(how)

    result = leakguard_pytester.runpytest_subprocess(*args)

    # The screen's documented blind spot (one small object growing inside
    # pymalloc and glibc's caches) is what 'always' is for.
    result.assert_outcomes(failed=1)
    memory = _memory_by_test(str(leakguard_pytester.path / "report.json"))[
        "test_small_string_growing_in_place"
    ]["memory"]
    assert memory["method"] == "traced"
    assert not any("counters grew" in note for note in memory["notes"])


def test_when_tracemalloc_already_traces_every_run_is_traced(
    leakguard_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PYTHONTRACEMALLOC is on: tracing costs nothing more, so there is no screen."""
    monkeypatch.setenv("PYTHONTRACEMALLOC", "1")
    leakguard_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.leakguard
        def test_clean():
            assert sum(range(100)) == 4950
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=report.json"
    )

    result.assert_outcomes(passed=1)
    memory = _memory_by_test(str(leakguard_pytester.path / "report.json"))[
        "test_clean"
    ]["memory"]
    assert memory["method"] == "traced"
    assert any("already tracing" in note for note in memory["notes"])
