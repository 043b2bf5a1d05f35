"""Checking one item: run it (once, or repeated and measured) and collect the outcome.

``check_item`` returns plain data: the reports to log once, and a JSON-able
outcome.  The repeated, measured runs live in :mod:`.measure`, imported only
when a test is repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .markers import MarkSpec
from .runner import (
    Reports,
    collect_young_garbage,
    make_driver,
    run_single,
    run_unchecked,
)


class ItemOutcome:
    """What checking one item produced (a plain class: a dataclass costs
    most of a millisecond to create at start-up).

    :param reports: to be logged, once, by the caller.
    :param memory: the memory verdict as JSON-able data, or None when memory
        was not judged (not repeated, or a run failed or skipped).
    :param not_repeatable: passed at first, failed on run N (1-based).
    :param subtests: the test logged subtest reports, so it was not repeated.
    :param runs_done: how many times the test ran.
    """

    __slots__ = (
        "reports",
        "memory",
        "not_repeatable",
        "subtests",
        "unclosed",
        "unclosed_count",
        "runs_done",
    )

    def __init__(
        self,
        reports: Reports,
        memory: dict[str, Any] | None = None,
        not_repeatable: int | None = None,
        subtests: bool = False,
        runs_done: int = 0,
    ) -> None:
        self.reports = reports
        self.memory = memory
        self.not_repeatable = not_repeatable
        self.subtests = subtests
        self.unclosed: list[Any] = []
        self.unclosed_count = 0
        self.runs_done = runs_done


def check_item(
    item: pytest.Item,
    nextitem: pytest.Item | None,
    spec: MarkSpec,
    measuring_starts: Callable[[], None] | None = None,
) -> ItemOutcome:
    """Run ``item`` as ``spec`` says; never log anything.

    :param measuring_starts: called once the warm-up is over, just before the
        baseline of a repeated test is taken (the resource check re-bases then,
        so that what the first run opens once is not its leak).
    """
    settings = spec.settings
    if not spec.repeat:
        if not settings.resources:
            return ItemOutcome(run_unchecked(item, nextitem), runs_done=1)
        outcome = ItemOutcome([], runs_done=1)
        outcome.reports, outcome.unclosed, outcome.unclosed_count = run_single(
            item, nextitem
        )
        return outcome
    from .measure import run_repeated  # the memory side, only when repeated

    driver = make_driver(item, settings.mode, settings.resources)
    outcome = run_repeated(driver, spec, measuring_starts)
    closing = driver.finish(nextitem)
    driver.keep_newest_properties()
    if closing:  # a broader fixture failed to tear down: the teardown report
        outcome.reports = [r for r in outcome.reports if r.when != "teardown"] + closing
    if settings.resources:
        with driver.warnings.capture():
            collect_young_garbage()
    outcome.unclosed = driver.warnings.unclosed
    outcome.unclosed_count = driver.warnings.unclosed_count
    driver.warnings.replay()
    return outcome
