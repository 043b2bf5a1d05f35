"""Peak-memory budgets: a test that loads too much at once fails.

The peak is tracemalloc's high-water mark during the test's call phase
(``tracemalloc.reset_peak`` before it), so setup and teardown do not count.
Only for a test over budget, its call runs once more with a profile hook that
takes a snapshot each time traced memory reaches a new high, so the report
can name the allocation sites that made up the peak.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from .units import format_limit, format_size

if TYPE_CHECKING:  # imported where a budget is measured: it costs milliseconds
    import tracemalloc

# On Item.stash: the highest call-phase peak seen over the test's runs, in bytes.
peak_key = pytest.StashKey[int]()
# On Item.stash, only during the explaining run: the sampler to install.
sampler_key = pytest.StashKey["PeakSampler"]()

TRACEBACK_FRAMES = 16
TOP_SITES = 5
# A new snapshot only when memory rose this much above the last one.
_SNAPSHOT_STEP = 1.05


class PeakSampler:
    """A profile hook that keeps the snapshot taken closest to the peak."""

    def __init__(self) -> None:
        self.best = 0
        self.snapshot: tracemalloc.Snapshot | None = None
        self._previous: Any = None

    def install(self) -> None:
        self._previous = sys.getprofile()
        sys.setprofile(self._on_event)

    def uninstall(self) -> None:
        sys.setprofile(self._previous)
        self._previous = None

    def _on_event(self, frame: FrameType, event: str, arg: Any) -> None:
        if event not in ("return", "c_return"):
            return
        import tracemalloc

        current = tracemalloc.get_traced_memory()[0]
        if current > self.best * _SNAPSHOT_STEP:
            self.best = current
            sys.setprofile(None)  # taking the snapshot must not call us back
            try:
                self.snapshot = tracemalloc.take_snapshot()
            finally:
                sys.setprofile(self._on_event)


@contextmanager
def measuring_peak(item: pytest.Item) -> Iterator[None]:
    """Record the call phase's traced peak on ``item.stash[peak_key]``."""
    import tracemalloc

    sampler = item.stash.get(sampler_key, None)
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(TRACEBACK_FRAMES if sampler else 1)
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    if sampler is not None:
        sampler.install()
    try:
        yield
    finally:
        if sampler is not None:
            sampler.uninstall()
        peak = tracemalloc.get_traced_memory()[1] - base
        item.stash[peak_key] = max(item.stash.get(peak_key, 0), peak)
        if started:
            tracemalloc.stop()


def take_peak(item: pytest.Item) -> int | None:
    """The recorded peak, forgotten afterwards (the stash lives all session)."""
    peak = item.stash.get(peak_key, None)
    if peak is not None:
        del item.stash[peak_key]
    return peak


def over_budget(
    peak: int, budget: int, sites: list[dict[str, Any]], notes: list[str]
) -> dict[str, Any]:
    """The leak entry for a test whose peak exceeded its budget."""
    return {
        "kind": "peak-memory",
        "summary": f"peak {format_size(peak)} during the call exceeds the budget of {format_limit(budget)}",
        "per_run": [peak],
        "fingerprint": "peak-memory",
        "peak_bytes": peak,
        "budget_bytes": budget,
        "sites": sites,
        "notes": notes,
    }


def peak_sites(sampler: PeakSampler, user_frame: Any) -> list[dict[str, Any]]:
    """Top allocation sites in the snapshot closest to the peak."""
    if sampler.snapshot is None:
        return []
    totals: dict[tuple[str, int], int] = {}
    for stat in sampler.snapshot.statistics("traceback"):
        site = user_frame(stat.traceback)
        if site is not None:
            totals[site] = totals.get(site, 0) + stat.size
    sampler.snapshot = None
    ranked = sorted(totals.items(), key=lambda item: -item[1])[:TOP_SITES]
    return [{"file": f, "line": line, "bytes": size} for (f, line), size in ranked]
