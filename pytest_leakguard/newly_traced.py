"""Traced bytes that grow while the heap does not: tracing catching up, not a leak.

tracemalloc only sees memory allocated since it started, and leakguard starts
it for each test it traces.  An object made before that is untraced; when it
dies and its replacement lands in a new block (a closure re-created on every
run, a table rebuilt), the traced bytes grow by the replacement's size while
the heap stays the same.  Free lists make this slow: the replacement often
takes the dead object's block back, so a few such objects can add a block's
worth of traced bytes on most runs for dozens of runs (blockbuster's wrappers
in anyio's suite, FINDINGS F8).

So bytes-only growth is confirmed over a few more runs, each followed by a
reading of two things that tell growth from replacement:

* ``sys.getallocatedblocks()``, every block the interpreter's allocator
  holds, traced or not, large objects included: a leak keeps at least one
  new allocation per run, so it gains blocks on (nearly) every run;
  replacing one object by another gains none;
* a tracemalloc snapshot, compared with the previous run's: growth inside
  existing allocations (a string or buffer realloc'd larger, which gains no
  block) shows as traced lines that grew without gaining allocations.

Each series is judged by the decision rule itself (``classify_extended``), so
the odd block or resize that one run shows (a worker thread caught busy, a
table rebuilt once) is not growth, as it is not in the measured runs; a
buffer growing in bursts (every other run) is, by its total.  What
stays hidden: memory a C extension allocates with ``PyMem_RawMalloc`` and
never frees (it gains no block).
"""

from __future__ import annotations

import array
import os
import sys
import tracemalloc
from collections.abc import Callable
from typing import NamedTuple

from .caches import clear_interpreter_caches
from .probes import automatic_gc_paused, collect_garbage
from .verdict import MIN_OBJECT_BYTES, MemoryDecision, Trend, classify_extended

#: Runs of the confirmation, each followed by a reading (twice that when
#: the blocks alone do not show a leak).
CONFIRM_RUNS = 5
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_INDICES = tuple(range(CONFIRM_RUNS))


def bytes_only(decision: MemoryDecision) -> bool:
    """Traced bytes grew, and no object count did: the case to confirm."""
    return (
        decision.bytes_trend is Trend.GROWING
        and decision.objects_trend is Trend.FLAT
        and not decision.growing_types
    )


class Confirmation(NamedTuple):
    """What the confirmation runs showed, per run."""

    blocks: tuple[int, ...]  # blocks gained
    resized: tuple[int, ...]  # bytes gained by traced lines that gained no allocation
    traced: tuple[int, ...]  # traced bytes gained

    def grew(self, min_bytes: int) -> bool:
        """Whether the heap grew as a leak grows (False: replacement).

        A buffer that keeps growing is reallocated in bursts (its spare room
        fills first): resizes on two runs or more that add up to the
        threshold per run are growth too, when the traced bytes grew as much
        and no run gave back more than the threshold (else traced memory is
        being rebuilt, larger on one run and smaller on another, as anyio's
        F9 did: traced bytes +816 +0 -40 +0 -432).
        """
        resizes = sum(1 for size in self.resized if size >= MIN_OBJECT_BYTES)
        threshold = min_bytes * len(self.resized)
        return (
            classify_extended(self.blocks, 1) is Trend.GROWING
            or classify_extended(self.resized, min_bytes, MIN_OBJECT_BYTES)
            is Trend.GROWING
            or (
                resizes >= 2
                and sum(self.resized) >= threshold
                and sum(self.traced) >= threshold
                and min(self.traced) > -min_bytes
            )
        )

    def note(self, min_bytes: int) -> str:
        runs = len(self.blocks)
        figures = f"blocks {_signed(self.blocks)}"
        if any(self.traced):
            figures += (
                f"; traced bytes {_signed(self.traced)}"
                f"; in allocations made larger {_signed(self.resized)}"
            )
        if self.grew(min_bytes):
            return f"the heap grew too in {runs} more runs ({figures})"
        return (
            f"traced bytes grew, but the heap did not in {runs} more runs ({figures}): "
            "objects made before tracing began were replaced by traced ones "
            "(tracing catching up), not a leak"
        )


def confirm(
    run: Callable[[], bool],
    wait_for_threads: Callable[[], None] = lambda: None,
) -> Confirmation | None:
    """Run ``CONFIRM_RUNS`` more times, reading the heap after each run.

    :param run: runs the test once; False if the run did not pass.
    :param wait_for_threads: lets threads a run left finish (what they hold
        is not the heap's growth).
    :returns: None when it could not be told (no block counter, a run failed).
    """
    count_blocks = getattr(sys, "getallocatedblocks", None)
    if count_blocks is None or not tracemalloc.is_tracing():
        return None
    # Blocks alone first: a leak of new allocations (most of them) is told
    # without snapshots, which cost as much as the traces a big leak made.
    first = _read_runs(run, wait_for_threads, count_blocks, snapshots=False)
    if first is None or classify_extended(first.blocks, 1) is Trend.GROWING:
        return first
    return _read_runs(run, wait_for_threads, count_blocks, snapshots=True)


def _read_runs(
    run: Callable[[], bool],
    wait_for_threads: Callable[[], None],
    count_blocks: Callable[[], int],
    snapshots: bool,
) -> Confirmation | None:
    """``CONFIRM_RUNS`` runs, each read with blocks (and a snapshot, if asked).

    Readings are stored in preallocated arrays and everything here is made
    before the first one: storing a reading allocates nothing.  With
    snapshots, each block reading is taken with exactly one snapshot alive,
    and the one after switching snapshots starts the next run's difference.
    """
    blocks, resized, traced = (
        array.array("q", bytes(8 * CONFIRM_RUNS)) for _ in range(3)
    )
    start = array.array("q", [0])
    runs = iter(_INDICES)
    previous = None
    if snapshots:
        _settle()
        previous = _snapshot()
    _settle()
    start[0] = count_blocks()
    for index in runs:
        if not run():
            return None
        wait_for_threads()
        _settle()
        blocks[index] = count_blocks() - start[0]
        if previous is None:
            start[0] += blocks[index]
            continue
        current = _snapshot()
        resized[index], traced[index] = _growth(current, previous)
        previous = current
        del current
        _settle()
        start[0] = count_blocks()
    return Confirmation(tuple(blocks), tuple(resized), tuple(traced))


def _growth(
    current: tracemalloc.Snapshot, previous: tracemalloc.Snapshot
) -> tuple[int, int]:
    """Bytes gained in allocations made larger, and traced bytes gained."""
    stats = current.compare_to(previous, "traceback")
    # A line that grew with no new allocation: something realloc'd larger.
    resized = sum(s.size_diff for s in stats if s.count_diff <= 0 and s.size_diff > 0)
    return resized, sum(s.size_diff for s in stats)


def _signed(series: tuple[int, ...]) -> str:
    return " ".join(f"{value:+d}" for value in series)


def _settle() -> None:
    """What every run refills (typing's caches) and what died, gone first."""
    clear_interpreter_caches()
    collect_garbage()


def _snapshot() -> tracemalloc.Snapshot:
    """The traces, leakguard's own and the snapshots' own left out."""
    with automatic_gc_paused():
        snapshot = tracemalloc.take_snapshot()
    return snapshot.filter_traces(
        (
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, os.path.join(_PACKAGE_DIR, "*")),
        )
    )
