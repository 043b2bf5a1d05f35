"""Per-session state: the resource guard, fixture ownership, each test's check.

Built only when leakguard is enabled.  The tests' results are kept in
:mod:`results`, taken from the reports, so that a pytest-xdist controller
builds its summary and documents from its workers' reports.
"""

from __future__ import annotations

import gc
import linecache
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from . import budget, marking
from . import report as reporting
from .check import check_item
from .fixture_ownership import FixtureOwnership
from .handoff import Handoff, QuietGap, starting_point
from .markers import MarkSpec
from .options import Settings
from .resources import WARNING_KINDS, Resource, sites
from .resources.guard import (
    AllowRule,
    ResourceGuard,
    Snapshot,
    filter_allowed,
    parse_allow_rules,
)
from .results import SessionResults
from .runner import ItemDriver, Reports, passed, release_post_mortem

#: The key of a pytest-xdist worker's notes in what it sends when it finishes.
WORKER_NOTES = "leakguard_notes"


class SessionState:
    """Everything leakguard keeps for one session (never the tests' objects)."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.notes: list[str] = []
        self.results = SessionResults(settings)
        self._guard: ResourceGuard | None = None
        self._allow_rules: dict[tuple[str, ...], tuple[AllowRule, ...]] = {}
        self.fixtures = FixtureOwnership()
        self._current: pytest.Item | None = None
        #: The nodeid of the item being checked ('' when none): compared
        #: with every report's, and a nodeid is built on each access.
        self.current_nodeid = ""
        self.not_repeated_subtests = 0
        #: The test being checked left open only what its second run reused.
        self._set_up_once = False
        # Left by a clean check for the next test (see handoff.py).
        self._handoff: Handoff | None = None
        #: The snapshot the test being checked began with (a repeated test's
        #: ``before`` is taken again once it is warm).
        self._began_with: Snapshot = {}
        self.quiet_gap = QuietGap(config)

    @property
    def guard(self) -> ResourceGuard:
        if self._guard is None:
            lists = self.config.hook.pytest_leakguard_resource_checkers(
                config=self.config
            )
            checkers = [checker for found in lists for checker in found]
            self._guard = guard = ResourceGuard(checkers, self.notes)
            sites.hold()
            guard.install()
            self.config.add_cleanup(sites.release)
            self.config.add_cleanup(guard.uninstall)
            for checker in checkers:
                reason = getattr(checker, "unavailable_reason", None)
                if reason:
                    self.notes.append(f"{checker.kind} checks unavailable: {reason}")
            self._rules(self.settings.allow, "ini leakguard_allow")  # validate early
        return self._guard

    def _rules(self, lines: tuple[str, ...], where: str) -> tuple[AllowRule, ...]:
        if lines not in self._allow_rules:
            try:
                kinds = [*self.guard.kinds, *WARNING_KINDS]
                self._allow_rules[lines] = parse_allow_rules(lines, kinds, where)
            except ValueError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._allow_rules[lines]

    @property
    def current(self) -> pytest.Item | None:
        """The item being checked right now, if any."""
        return self._current

    def validate(self, item: pytest.Item, spec: MarkSpec) -> None:
        """Reject a bad allow entry before any test runs (a usage error)."""
        if spec.settings.allow and spec.resources:
            self._rules(spec.settings.allow, f"{item.nodeid} (marker or ini)")

    def check(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        spec: MarkSpec,
        nodeid: str,
    ) -> Reports:
        """Check ``item`` and return its reports, marked if it leaked.

        Whatever goes wrong in leakguard's own work after the test ran is a
        note on the result: the test keeps its outcome, the run goes on.

        :param nodeid: ``item.nodeid``, which pytest builds on each access.
        """
        guard = (self._guard or self.guard) if spec.resources else None
        handoff, self._handoff = self._handoff, None
        if guard is not None:
            if release_post_mortem():
                handoff = None  # the collection may have closed what was open
            sites.start_recording()
        try:
            before = self._starting_snapshot(guard, item, handoff) if guard else None
            self._began_with = before or {}
            rebase = None
            if spec.repeat:

                def rebase() -> None:
                    # A repeated test is judged on what its measured runs left
                    # open: what its first run opened once is lazy set-up.
                    nonlocal before
                    if guard is not None:
                        before = guard.snapshot()

            self._current, self.current_nodeid = item, nodeid
            try:
                outcome = check_item(item, nextitem, spec, rebase)
            finally:
                self._current, self.current_nodeid = None, ""
            ok = True
            for report in outcome.reports:  # a loop: this runs for every test
                # .passed is a property (a call), hasattr() raises inside: an
                # xfail that passed (XPASS) is not judged, as in a second run.
                if report.outcome != "passed" or "wasxfail" in report.__dict__:
                    ok = False
                    break
            self.not_repeated_subtests += outcome.subtests
            try:
                leaks = self._leaks_besides_memory(
                    item, nextitem, spec, guard, before, outcome, ok
                )
            except Exception as exc:
                leaks = []
                self._note(
                    f"{item.nodeid}: resources could not be checked: {type(exc).__name__}: {exc}"
                )
        finally:
            if guard is not None:
                sites.stop_recording()
            if spec.settings.max_memory:
                budget.take_peak(item)  # forgotten even when the check failed
        result = reporting.build_result(outcome.memory, leaks, outcome.not_repeatable)
        result["checked"] = ok and (guard is not None or outcome.memory is not None)
        if self._set_up_once:  # rides on the report, to pytest-xdist's controller too
            result["set_up_once"], self._set_up_once = True, False
        marking.classify(
            result, nodeid, self.results.baseline, self.settings.update_baseline
        )
        return marking.apply(outcome.reports, result, item)

    def _leaks_besides_memory(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        spec: MarkSpec,
        guard: ResourceGuard | None,
        before: Snapshot | None,
        outcome: Any,
        ok: bool,
    ) -> list[dict[str, Any]]:
        """Resources left open, fixtures' leftovers, and a peak over budget."""
        leaks: list[dict[str, Any]] = []
        snapshot_taken = None  # the guard, once its last snapshot is this test's end
        if self.fixtures.pending and self._guard is not None:
            # Before a second run: it may set the fixtures up again.
            self.fixtures.judge_torn_down(
                self._guard, self.settings.settle_time, outcome.unclosed
            )
        if guard is not None and before is not None and ok:
            after = guard.snapshot()
            if after is not before or outcome.unclosed:  # else: the common case
                leaks = self._resources_left(
                    item, nextitem, spec, guard, before, after, outcome.unclosed
                )
            snapshot_taken = guard
        if self.fixtures.leaks or self.fixtures.released:
            leaks += self.fixtures.take_leaks()
        limit = spec.settings.max_memory
        peak = budget.take_peak(item) if limit else None  # measured only then
        if peak is not None and limit and peak > limit and ok:
            leaks.append(self._explain_peak(item, nextitem, peak, limit))
        if snapshot_taken is not None and not leaks:
            self._hand_over(snapshot_taken, nextitem)
        return leaks

    def _hand_over(self, guard: ResourceGuard, nextitem: pytest.Item | None) -> None:
        """Leave this clean test's last snapshot for the next one (handoff.py)."""
        activity = sites.activity()
        if activity >= 0:
            self._handoff = Handoff(
                nextitem,
                activity,
                guard.last_snapshot,
                guard.last_fd_table,
            )

    def _starting_snapshot(
        self, guard: ResourceGuard, item: pytest.Item, handoff: Handoff | None
    ) -> Snapshot:
        """The previous check's last snapshot when still true, else a new one
        (from the previous descriptor table when that alone is still true)."""
        snapshot, fd_table = starting_point(handoff, item, self.quiet_gap)
        return snapshot if snapshot is not None else guard.snapshot(fd_table)

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def _explain_peak(
        self, item: pytest.Item, nextitem: pytest.Item | None, peak: int, limit: int
    ) -> dict[str, Any]:
        """Run the test once more, sampling snapshots at each new high of memory."""
        from .explain import plugin_files, user_frame

        notes: list[str] = []
        sampler = budget.PeakSampler()
        item.stash[budget.sampler_key] = sampler
        driver = ItemDriver(item)
        try:
            with self.fixtures.leaks_not_found_again():
                ran = driver.run_once(nextitem)
                driver.finish(nextitem)
            if not passed(ran):
                notes.append(
                    "the test failed when run again to find the peak's allocation sites"
                )
        finally:
            del item.stash[budget.sampler_key]
            budget.take_peak(item)
        files = plugin_files(item.config)
        sites = budget.peak_sites(sampler, lambda tb: user_frame(tb, files))
        for site in sites:
            site["source"] = linecache.getline(site["file"], site["line"]).strip()
            site["file"] = (
                os.path.relpath(site["file"])
                if not site["file"].startswith("<")
                else site["file"]
            )
        return budget.over_budget(peak, limit, sites, notes)

    def _resources_left(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        spec: MarkSpec,
        guard: ResourceGuard,
        before: Snapshot,
        after: Snapshot,
        warnings: list[Any],
    ) -> list[dict[str, Any]]:
        new, late = self._open_since(guard, before, after, spec.settings.settle_time)
        if not new and not warnings and not late:
            return []  # the common case: nothing to describe, filter or allow
        # A warning about what was open before the test began (an event loop
        # an earlier test left set, which this one unset) is the earlier
        # test's, reported there as left open.  Not ``before``: a repeated
        # test's is taken again once it is warm, with its own runs' loops in
        # it, whose addresses the next runs' loops take again.
        opened_before = frozenset().union(*self._began_with.values())
        warnings = [w for w in (*warnings, *late) if not w.opened_as & opened_before]
        found = self._left_by_the_test(guard, new)
        if found and not spec.repeat:
            from .second_run import SECOND_RUN_KINDS  # only for a test with leftovers

            if any(r.kind in SECOND_RUN_KINDS for r in found):
                found = self._left_again(item, nextitem, spec, guard, found)
        found += warnings
        rules = self._rules(spec.settings.allow, f"{item.nodeid} (marker or ini)")
        hook = item.ihook.pytest_leakguard_ignore_resource
        kept = filter_allowed(found, rules, lambda r: bool(hook(resource=r, item=item)))
        return reporting.resource_leaks(kept)

    def _open_since(
        self,
        guard: ResourceGuard,
        before: Snapshot,
        after: Snapshot,
        settle_time: float,
        outlived: frozenset[str] = frozenset(),
    ) -> tuple[dict[str, frozenset[str]], list[Resource]]:
        """What was opened between two snapshots and is still open, after
        letting stragglers settle, and the ResourceWarnings of a collection.

        What broader fixtures and other threads own is left out before the
        wait: a module fixture's server and the connections it accepted stay
        open until the module ends, and waiting for them to close would cost
        the first test of every such module the whole settle time.

        :param outlived: fingerprints of what outlived the whole settle time
            already (a second run's first run's leftovers): what has one of
            them is not waited for again, so that a confirmed leak costs one
            settle time, not two.
        """
        new = self.fixtures.left_out(guard.new_in(before, after, 0.0))
        if not new:
            return {}, []
        left = self._left_by_the_test(guard, new)
        if not left:
            return {}, []
        waited = new
        if outlived:
            unsure = {r.key for r in left if r.fingerprint not in outlived}
            waited = {
                kind: keys & unsure for kind, keys in new.items() if keys & unsure
            }
        if waited and not guard.settle(waited, settle_time) and waited is new:
            return {}, []
        # Only now, with leftovers to report, is a full collection worth
        # it: an unreachable connection in an old cycle closes here (and
        # warns, if the interpreter warns about it).
        return _after_full_collection(guard, before)

    def _left_by_the_test(
        self, guard: ResourceGuard, new: dict[str, frozenset[str]]
    ) -> list[Resource]:
        """Describe ``new``, less what broader fixtures and other threads own."""
        found = guard.describe(self.fixtures.left_out(new))
        # What another thread that is still running opened (a fixture's
        # server accepting connections) is that thread's owner's, and so is
        # what a thread that is not the test's made (see sites.creator_of);
        # a thread the test started and left running is reported itself.
        others = _other_live_threads()
        return [
            r
            for r in found
            if not r.foreign and (r.thread is None or r.thread not in others)
        ]

    def _left_again(
        self,
        item: pytest.Item,
        nextitem: pytest.Item | None,
        spec: MarkSpec,
        guard: ResourceGuard,
        found: list[Resource],
    ) -> list[Resource]:
        """The leftovers of ``found`` of a kind that a second run leaves open
        again: the others were one-time set-up (see second_run.py)."""
        from .second_run import SECOND_RUN_KINDS, kinds_that_grew, ran_again

        # Both read afresh: a second run that replaces what the first one
        # left (closes it, makes another) may leave the descriptor count as
        # it was, and the next test must start from the true table.
        before = guard.fresh_snapshot()
        # Broader fixtures that the second run sets up again are theirs, and
        # their teardown was checked in the first run already.
        self._current, self.current_nodeid = item, item.nodeid
        try:
            with self.fixtures.leaks_not_found_again():
                passed_again, dropped = ran_again(item, nextitem)
        except Exception as exc:  # leakguard's own failure: the first run stands
            self._note(
                f"{item.nodeid}: could not be run again: {type(exc).__name__}: {exc}"
            )
            return found
        finally:
            self._current, self.current_nodeid = None, ""
        if not passed_again:
            self._note(
                f"{item.nodeid}: failed when run again to tell one-time set-up "
                "from a leak; what its first run left open is reported"
            )
            return found
        after = guard.fresh_snapshot()  # before settling: what the run itself closed
        new, _ = self._open_since(
            guard,
            before,
            after,
            spec.settings.settle_time,
            frozenset(r.fingerprint for r in found),
        )
        kinds = kinds_that_grew(
            found, self._left_by_the_test(guard, new), after, dropped
        )
        kept = [r for r in found if r.kind not in SECOND_RUN_KINDS or r.kind in kinds]
        self._set_up_once = len(kept) < len(found)
        return kept

    @contextmanager
    def fixture_setup(self, fixturedef: pytest.FixtureDef[Any]) -> Iterator[None]:
        """Attribute what a broader-scoped fixture opens to the fixture."""
        if fixturedef.scope == "function" or self._current is None:
            yield
            return
        with self.fixtures.setting_up(fixturedef, self.guard):
            yield

    def fixture_finished(self, fixturedef: pytest.FixtureDef[Any], node: Any) -> None:
        """At a broader fixture's teardown, check it released what it opened."""
        rules = self._rules(self.settings.allow, "ini leakguard_allow")
        hook = node.ihook.pytest_leakguard_ignore_resource

        def keep(found: list[Resource]) -> list[Resource]:
            return filter_allowed(
                found, rules, lambda r: bool(hook(resource=r, item=node))
            )

        self.fixtures.torn_down(fixturedef, self._guard, keep)
        if self._current is None and self._guard is not None:
            # Torn down outside a checked test (one leakguard leaves to pytest,
            # the session's end): nothing later in this teardown is awaited.
            self.fixtures.judge_torn_down(self._guard, self.settings.settle_time, [])

    def terminal_summary(self, terminalreporter: Any) -> None:
        from .summary import write_terminal_summary

        write_terminal_summary(terminalreporter, self)

    def session_finished(self, session: pytest.Session) -> None:
        if self._guard is not None and sites.unavailable_reason:
            # Known only once the first test added the audit hook (sites.py).
            self._note(f"db-connection checks unavailable: {sites.unavailable_reason}")
        if hasattr(self.config, "workerinput"):
            # The controller writes the files, from every worker's reports,
            # and prints this worker's notes (pytest_testnodedown).
            output = getattr(self.config, "workeroutput", None)
            if isinstance(output, dict):
                output[WORKER_NOTES] = list(self.notes)
            return
        if self.settings.update_baseline and self.settings.baseline_path:
            self.notes.append(self.results.write_baseline(self.settings.baseline_path))
        if self.settings.json_path or self.settings.html_path:
            from .jsonreport import document, write_json

            if self.settings.json_path:
                write_json(self.settings.json_path, self)
            if self.settings.html_path:
                from .htmlreport import write_html

                write_html(self.settings.html_path, document(self))

    def worker_finished(self, output: object) -> None:
        """Take in the notes a pytest-xdist worker sent when it finished
        (each once: every worker may note the same unavailable check)."""
        notes = output.get(WORKER_NOTES) if isinstance(output, dict) else None
        for note in notes if isinstance(notes, list) else ():
            self._note(str(note))


def _after_full_collection(
    guard: ResourceGuard, before: Snapshot
) -> tuple[dict[str, frozenset[str]], list[Resource]]:
    from .resources.unclosed import capture_resource_warnings, describe_resource_warning

    with capture_resource_warnings() as dropped:
        gc.collect()
    late = [describe_resource_warning(record) for record in dropped]
    dropped.clear()
    return guard.new_since(before, 0.0), late


def _other_live_threads() -> frozenset[int]:
    """Threads alive now, other than the one running the tests."""
    current = threading.get_ident()
    return frozenset(
        t.ident
        for t in threading.enumerate()
        if t.ident is not None and t.ident != current
    )


__all__ = ["SessionState"]
