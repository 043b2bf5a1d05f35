"""Every test's JSON-able result, and the baseline its leaks are judged against.

The terminal summary, the JSON and HTML documents and the written baseline
are all made from these entries.  They are taken from the reports
(``report.leakguard``), so a pytest-xdist controller fills them from its
workers' reports exactly as a single process does from its own.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from .options import Settings

if TYPE_CHECKING:  # the baseline module is imported only when one is used
    from . import baseline as baselines
    from .runner import Reports


class SessionResults:
    """One entry per test (by nodeid), and the baseline file's known leaks."""

    def __init__(self, settings: Settings) -> None:
        self.entries: dict[str, dict[str, Any]] = {}
        self.baseline = _load_baseline(settings)

    def record(self, report: pytest.TestReport, nodeid: str) -> None:
        """Keep what one logged report says (controller side under xdist).

        :param nodeid: ``report.nodeid``, which pytest builds on each access.
        """
        entry = self._entry(nodeid, report.outcome)
        if report.when == "call" or report.outcome != "passed":
            entry["outcome"] = report.outcome
        result = getattr(report, "leakguard", None)
        if result:
            _keep_result(entry, result, report)

    def record_checked(self, reports: Reports, nodeid: str) -> dict[str, Any] | None:
        """:meth:`record` the reports of one checked test, in one go (this
        runs for every test).  The result a report carries becomes the test's
        entry itself: no copy, and no new object for the collector, per test.

        :returns: that result, if any.
        """
        if not reports:
            return None
        entry = self.entries.get(nodeid)
        outcome = reports[0].outcome if entry is None else entry["outcome"]
        carrier = None
        for report in reports:
            if report.when == "call" or report.outcome != "passed":
                outcome = report.outcome
            if carrier is None and getattr(report, "leakguard", None):
                carrier = report
        if carrier is None:
            self._entry(nodeid, outcome)["outcome"] = outcome
            return None
        result: dict[str, Any] = carrier.leakguard
        if entry is None:
            self.entries[nodeid] = entry = result
            entry["nodeid"] = nodeid
            entry["location"] = _location(carrier)
        else:
            _keep_result(entry, result, carrier)
        entry["outcome"] = outcome
        return result

    def _entry(self, nodeid: str, outcome: str) -> dict[str, Any]:
        """The test's entry, made with ``outcome`` if new."""
        entry = self.entries.get(nodeid)
        if entry is None:
            entry = self.entries[nodeid] = {
                "nodeid": nodeid,
                "checked": False,
                "leaked": False,
                "leaks": [],
                "outcome": outcome,
            }
        return entry

    def fixed_baseline_entries(self) -> list[baselines.Entry]:
        """Known leaks that did not show up again among the tests checked now."""
        if self.baseline is None:
            return []
        checked = {
            nodeid: r["leaks"] for nodeid, r in self.entries.items() if r.get("checked")
        }
        return self.baseline.fixed(checked)

    def write_baseline(self, path: str) -> str:
        """Write this run's leaks, plus the entries of tests that did not run
        now; return the note that says so."""
        from . import baseline as baselines

        ran = set(self.entries)
        kept = [
            e
            for e in (self.baseline.entries if self.baseline else [])
            if e.nodeid not in ran
        ]
        current = [
            baselines.entry_of(nodeid, leak)
            for nodeid, r in self.entries.items()
            for leak in r.get("leaks", [])
        ]
        baselines.write(path, kept + current)
        return f"baseline written to {path}: {len(kept) + len(current)} known leaks"


def _load_baseline(settings: Settings) -> baselines.Baseline | None:
    if not settings.baseline_path:
        return None
    if settings.update_baseline and not os.path.exists(settings.baseline_path):
        return None
    from . import baseline as baselines

    try:
        return baselines.load(settings.baseline_path)
    except baselines.BaselineError as exc:
        raise pytest.UsageError(str(exc)) from None


def _keep_result(
    entry: dict[str, Any], result: dict[str, Any], report: pytest.TestReport
) -> None:
    """Copy a leakguard result into a test's entry, with where the test is."""
    entry.update(result)
    entry["location"] = _location(report)


def _location(report: pytest.TestReport) -> tuple[str, int | None]:
    """(path, 1-based line) of the test (a tuple: the collector stops
    tracking it, and JSON writes it as a list)."""
    path, lineno, _ = report.location
    return path, lineno + 1 if lineno is not None else None


__all__ = ["SessionResults"]
