"""Putting a test's result on the reports pytest is about to log.

A new leak fails the test (its call report, so that every reporter sees a
failure); a leak the baseline knows leaves it passing with a ``KNOWN LEAK``
status; JUnit XML gets the figures as properties.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from . import report as reporting

if TYPE_CHECKING:  # the baseline module is imported only for leaks
    from .baseline import Baseline

Reports = list[pytest.TestReport]


def classify(
    result: dict[str, Any], nodeid: str, baseline: Baseline | None, accept_all: bool
) -> None:
    """Give every leak a baseline status; ``failing`` says whether any is new."""
    if not result["leaks"]:
        result["failing"] = False
        return
    from .baseline import NEW

    for leak in result["leaks"]:
        if accept_all:
            leak["baseline"] = "known"
        elif baseline is not None:
            leak["baseline"] = baseline.status(nodeid, leak)
        else:
            leak["baseline"] = NEW
    result["failing"] = any(leak["baseline"] == NEW for leak in result["leaks"])


def apply(reports: Reports, result: dict[str, Any], item: pytest.Item) -> Reports:
    """Attach ``result`` to the call report (or the last one); fail it for new leaks."""
    if not reports:
        return reports
    target = reports[-1]
    for report in reports:  # a loop, not next(genexpr): this runs for every test
        if report.when == "call":
            target = report
            break
    target.leakguard = result  # type: ignore[attr-defined]
    if result.get("failing") and target.passed:
        target.outcome = "failed"
        body = reporting.section(result, item.nodeid)
        # LeakRepr quacks like pytest's TerminalRepr (toterminal, reprcrash).
        target.longrepr = reporting.LeakRepr(message(result), body)  # type: ignore[assignment]
    elif result["leaked"]:
        target.sections.append(
            (
                reporting.SECTION,
                "known leak (in the baseline):\n"
                + reporting.section(result, item.nodeid),
            )
        )
    elif result.get("not_repeatable"):
        run = result["not_repeatable"]
        target.sections.append(
            (
                reporting.SECTION,
                f"NOT REPEATABLE: passed on run 1 but failed on run {run}. The test depends on "
                "state that an earlier run changed; it is not judged for leaks.",
            )
        )
    _add_properties(reports, result)
    return reports


def message(result: dict[str, Any]) -> str:
    """The failure's one-line message (the short summary shows it after the id)."""
    return (
        reporting.verdict_line(result)
        .removeprefix("LEAKED ")
        .removeprefix("OVER BUDGET ")
    )


def restore_repr(report: pytest.TestReport) -> None:
    """Give a leak's failure its message again after pytest-xdist's transport.

    A worker's report reaches the controller as JSON, where the failure's
    :class:`~.report.LeakRepr` became its text: the short summary would then
    quote the text's first line, verdict word included.
    """
    longrepr = report.longrepr
    if not isinstance(longrepr, str) or not report.failed:
        return
    result = getattr(report, "leakguard", None)
    if result and result.get("failing"):
        report.longrepr = reporting.LeakRepr(message(result), longrepr)  # type: ignore[assignment]


_LEAKED, _NOT_LEAKED = ("leakguard_leaked", "true"), ("leakguard_leaked", "false")


def _add_properties(reports: Reports, result: dict[str, Any]) -> None:
    """Figures for JUnit XML, which reads properties from the teardown report."""
    if not result.get("checked"):
        return
    teardown = reports[-1]  # pytest's order: setup, call, teardown
    if teardown.when != "teardown":
        for teardown in reports:
            if teardown.when == "teardown":
                break
        else:
            return
    memory = result.get("memory")
    if not memory and not result["leaks"]:  # most tests: nothing else to say
        teardown.user_properties.append(_NOT_LEAKED)
        return
    properties = [_LEAKED if result["leaked"] else _NOT_LEAKED]
    if memory:
        properties.append(
            ("leakguard_bytes_per_run", str(_median(memory["bytes_per_run"])))
        )
        properties.append(
            ("leakguard_objects_per_run", str(_median(memory["objects_per_run"])))
        )
    resources = [
        leak for leak in result["leaks"] if leak["kind"] not in ("bytes", "objects")
    ]
    if resources:
        properties.append(
            (
                "leakguard_resources_left_open",
                str(sum(leak.get("count", 1) for leak in resources)),
            )
        )
    teardown.user_properties.extend(properties)


def _median(values: list[int]) -> int:
    return reporting.median_int(values)
