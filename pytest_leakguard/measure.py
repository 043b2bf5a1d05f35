"""The measured runs of a repeated test: warm-up, screen, trace, decide, explain.

Imported only when a test is repeated: a suite checked for resources alone
does not pay for the memory side's modules at start-up.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from .caches import clear_interpreter_caches
from .check import ItemOutcome
from .markers import MarkSpec
from .newly_traced import Confirmation, bytes_only, confirm
from .resources import sites
from .resources.threads import is_busy_pool_worker, is_pool_worker
from .runner import (
    ItemDriver,
    Reports,
    collect_young_garbage,
    failures_unseen,
    logged_during_runs_key,
    note_collections,
    passed,
    run_until,
    start_noting_collections,
)
from .verdict import (
    MemoryDecision,
    Policy,
    Sample,
    Trend,
    decide,
    deltas,
    interned_strings_explain,
    screen,
)

if TYPE_CHECKING:
    from .counters import ScreenReadings
    from .probes import MemoryProbe

# Runs spent at most filling a bounded cache before judging again.
MAX_FILL_RUNS = 200


@functools.cache
def _import_what_judging_needs() -> None:
    """Import now what judging and explaining a leak would import later.

    A module imported between two measured runs is growth of its own, in
    ``sys.modules`` and in whatever watches it: Hypothesis rescans every new
    module for constants on its next run, which would make the filling-cache
    check or the explanation of one test see a growing Hypothesis cache.
    """
    from . import bounded, explain  # noqa: F401


def run_repeated(
    driver: ItemDriver,
    spec: MarkSpec,
    measuring_starts: Callable[[], None] | None,
) -> ItemOutcome:
    """Warm up, measure, decide, explain: the whole check of a repeated test."""
    _import_what_judging_needs()
    started = driver.start()
    if not passed(started):
        return ItemOutcome(reports=started)
    from .probes import MemoryProbe

    settings = spec.settings
    probe = MemoryProbe(
        screen=settings.tracing == "auto",
        screen_runs=settings.runs,
        ignore_types=settings.ignore_types,
    )
    # Recording creation sites while measuring would be growth of our own.
    with sites.paused():
        # The first run is neither traced nor frozen: it sets up broader-scoped
        # fixtures (a large session fixture is not the test's cost to trace).
        start_noting_collections()
        reports, done = run_until(driver, 1)
        if not done:
            return _stopped(started + reports, done)
        if driver.item.stash.get(logged_during_runs_key, False):
            # Subtests log their reports during the run: repeating it would
            # log them again each time, and that bookkeeping would look leaky.
            return ItemOutcome(reports=started + reports, runs_done=1, subtests=True)
        del reports
        if driver.warnings.resources:
            # What the first run dropped in a cycle that reached an older
            # generation would be frozen by ``begin`` and, unfrozen into the
            # oldest one by ``end``, warn in a later test: it warns now.
            with driver.warnings.capture():
                collect_young_garbage()
        first = 1
        probe.begin()
        try:
            return _warm_up_and_measure(
                driver, spec, probe, started, first, measuring_starts
            )
        finally:
            probe.end()
            note_collections()  # the measuring's own collections


def _warm_up_and_measure(
    driver: ItemDriver,
    spec: MarkSpec,
    probe: MemoryProbe,
    started: Reports,
    done_before: int,
    measuring_starts: Callable[[], None] | None,
) -> ItemOutcome:
    settings = spec.settings
    after_run = functools.partial(
        _after_run, driver, probe, LateThreads(settings.settle_time)
    )
    # Made before the baseline: created after it, it would be a block of growth.
    policy = Policy(settings.min_bytes, settings.min_objects, settings.ignore_types)
    # The other warm-up runs are traced: the first traced runs replace blocks
    # allocated before tracing (dict tables of pytest's own state, say), and
    # such one-off replacements must happen before the baseline.  The last
    # warm-up's sample is the baseline, taken like every measured one (while
    # run_until holds the run's reports).
    warmup = settings.warmup
    if probe.owns_tracing and not probe.screening:
        # One traced run before the baseline, whatever the warm-up: with
        # tracing just started, the first run's replacements of untraced
        # blocks would be measured as growth.
        warmup = max(warmup, done_before + 1)
    traced = max(warmup - done_before - 1, 0)
    reports, done = run_until(driver, traced)
    if done < traced:
        return _stopped(started + reports, done_before + done)
    del reports  # held through the baseline, they would be freed in run 1
    if measuring_starts is not None:
        measuring_starts()  # before the freeze: what it keeps is out of view
    probe.refreeze()  # what the warm-up created once is out of view
    if warmup > done_before:
        reports, done = run_until(driver, 1, after_run)
        if not done:
            return _stopped(started + reports, done_before + traced)
        del reports
    else:
        after_run()
    unmeasured = max(warmup, done_before)
    return _measure(driver, spec, probe, policy, started, after_run, unmeasured)


def _stopped(reports: Reports, runs_passed: int) -> ItemOutcome:
    return ItemOutcome(
        reports=reports,
        not_repeatable=runs_passed + 1
        if runs_passed and not _skipped(reports)
        else None,
        runs_done=runs_passed + 1,
    )


def _skipped(reports: Reports) -> bool:
    return any(r.skipped or hasattr(r, "wasxfail") for r in reports)


def _after_run(
    driver: ItemDriver, probe: MemoryProbe, late_threads: LateThreads
) -> None:
    late_threads.wait()
    clear_interpreter_caches()
    if probe.heap_frozen and driver.warnings.resources:
        # The run's cyclic garbage is freed here rather than in the sample,
        # inside the run's capture: a resource dropped in a cycle warns now,
        # as the test's (the frozen heap holds no earlier test's garbage).
        from .probes import collect_garbage

        with driver.warnings.capture():
            collect_garbage()
    probe.sample()


class LateThreads:
    """Before a sample, lets threads that a run left running finish.

    A worker abandoned on cancel, a timer firing a moment later: what they
    hold while they run would count as the run's growth ("threads that
    finish a moment late" are not a leak).  Threads alive when the test's
    measurement began (a fixture's server, the first run's own stragglers)
    are not waited for, nor are known pools' idle workers.  A pool's worker
    busy with this test's job is (an abandoned call still running on trio's
    cache, FINDINGS F8), whenever the worker was started; one that was busy
    already when the measurement began is not, until it is seen idle once
    (a job that never ends would cost every later test a full wait).
    Threads are told apart by identity, not counted: one run's straggler may
    still run while the next run starts its own.  One wait that runs out (a
    thread that does not end: the resource check reports it) ends the
    waiting for this test.
    """

    def __init__(self, limit: float) -> None:
        self.alive_before = frozenset(threading.enumerate())
        self.limit = limit
        self.gave_up = False
        self._busy_before = self._busy_pool_workers()

    @staticmethod
    def _busy_pool_workers() -> set[threading.Thread]:
        frames = sys._current_frames()
        try:
            return {t for t in threading.enumerate() if is_busy_pool_worker(t, frames)}
        finally:
            del frames  # they hold every thread's locals

    def _late(self) -> bool:
        """Whether a thread is still to be waited for."""
        frames = sys._current_frames()
        late = False
        try:
            for thread in threading.enumerate():
                if not is_pool_worker(thread):
                    late = late or thread not in self.alive_before
                elif not is_busy_pool_worker(thread, frames):
                    self._busy_before.discard(thread)
                elif thread not in self._busy_before:
                    late = True
            return late
        finally:
            del frames  # they hold every thread's locals

    def wait(self) -> None:
        if self.gave_up or not self._late():
            return
        deadline, pause = time.monotonic() + self.limit, 0.002
        while self._late():
            if time.monotonic() >= deadline:
                self.gave_up = True
                return
            time.sleep(pause)
            pause = min(pause * 2, 0.05)


def _measure(
    driver: ItemDriver,
    spec: MarkSpec,
    probe: MemoryProbe,
    policy: Policy,
    started: Reports,
    after_run: Callable[[], None],
    warmup: int,
) -> ItemOutcome:
    """:param warmup: the unmeasured runs done before the baseline, in all."""
    settings = spec.settings
    reports, done = run_until(driver, settings.runs, after_run)
    if done < settings.runs:
        return _stopped(started + reports, warmup + done)
    total = warmup + done
    screened: list[str] = []
    readings = probe.screened if probe.screening else None
    if readings is not None:
        screened = screen(
            readings.objects(),
            readings.malloc_bytes(),
            readings.blocks_growth(),
            policy,
        )
        if driver.warnings.unclosed_count:
            # Their allocation sites come from tracemalloc: trace to name them.
            screened.append(f"{driver.warnings.unclosed_count} unclosed resources")
        if not screened:
            return ItemOutcome(
                reports=started + reports,
                memory=_screened(readings, policy, total),
                runs_done=total,
            )
        # The counters grew: measure again, traced.  Traced warm-up runs first
        # (the warm-up less the one that takes the new baseline): they replace
        # blocks allocated before tracing, and on 3.12 the interpreter's tables
        # take runs to settle.  Nothing is refrozen: what the screened runs
        # kept and a later run frees (a full deque turning over) must count
        # as freed.
        del reports
        probe.start_tracing()
        settle = max(settings.warmup - 1, 1)
        reports, done = run_until(driver, settle)
        if done < settle:
            return _stopped(started + reports, total + done)
        del reports
        reports, done = run_until(driver, 1 + settings.runs, after_run)
        if done <= settings.runs:
            return _stopped(started + reports, total + settle + done)
        total += settle + 1 + settings.runs
    extra = settings.max_runs - settings.runs
    if (
        extra > 0 and decide(probe.samples(), policy).undecided
    ):  # not kept: it would count
        # The last run's reports are replaced by the extra runs' own: held
        # through them, they were 14 objects and 2 KiB of growth in run 6.
        del reports
        reports, done = run_until(driver, extra, after_run)
        total += done
        if done < extra:
            return _stopped(started + reports, total)
        decision = decide(probe.samples(), policy, extended=True)
    else:
        decision = decide(probe.samples(), policy)
    ignored = _ignored_by_hook(driver.item, decision)
    if ignored:
        policy = dataclasses.replace(policy, ignore_types=policy.ignore_types | ignored)
        decision = decide(probe.samples(), policy, extended=True)
    notes = list(probe.notes)
    prune: Callable[[], object] | None = None
    if decision.leaked and "sqlite3" in sys.modules:
        without = _without_dead_cursor_references(
            driver, probe, policy, settings.runs, after_run
        )
        if without is not None:
            note, decision, runs, after_run, prune = without
            notes.append(note)
            total += runs
    if not decision.leaked and interned_strings_explain(probe.samples(), policy):
        notes.append(
            "bytes grew by new interned strings only (immortal from Python 3.12: "
            "a name made per run, such as a numbered tmp_path): not a leak"
        )
    if screened:
        notes.append(
            "counters grew without tracing ("
            + "; ".join(screened)
            + "): measured again, traced"
        )
    judged = True
    if decision.leaked and bytes_only(decision):
        confirmation, runs = _confirm_growth(driver, settings.settle_time, prune)
        total += runs
        if confirmation is not None:
            notes.append(confirmation.note(policy.min_bytes))
            if not confirmation.grew(policy.min_bytes):
                decision = dataclasses.replace(decision, bytes_trend=Trend.FLAT)
    if decision.leaked:
        try:
            with failures_unseen():
                filled = _fill_bounded_caches(
                    driver, probe, policy, settings.runs, after_run
                )
        except Exception as exc:
            filled = None
            notes.append(
                f"bounded caches could not be inspected: {type(exc).__name__}: {exc}"
            )
        if filled is not None:
            note, refined, runs = filled
            notes.append(note)
            total += runs
            judged = refined is not None
            decision = refined or decision
    memory = _memory_data(decision, policy, total, notes)
    memory["leaked"] = decision.leaked and judged
    if memory["leaked"]:
        try:
            from .explain import explain_leak

            with failures_unseen():
                memory["explanation"] = explain_leak(driver, probe, decision)
        except Exception as exc:  # a hostile object must not hide the verdict
            memory["explanation"] = {
                "notes": [
                    f"the leak could not be explained: {type(exc).__name__}: {exc}"
                ]
            }
    return ItemOutcome(reports=started + reports, memory=memory, runs_done=total)


def _screened(readings: ScreenReadings, policy: Policy, runs: int) -> dict[str, Any]:
    """A clean verdict from the counters alone: no traced bytes to report."""
    objects = readings.objects()
    samples = [Sample(traced_bytes=0, objects=count) for count in objects]
    memory = _memory_data(decide(samples, policy), policy, runs, [])
    memory["method"] = "counters"
    memory["bytes_per_run"] = []
    memory["malloc_bytes_per_run"] = list(deltas(readings.malloc_bytes()))
    memory["blocks_growth"] = readings.blocks_growth()
    return memory


def _ignored_by_hook(item: pytest.Item, decision: MemoryDecision) -> frozenset[str]:
    hook = item.ihook.pytest_leakguard_ignore_type
    return frozenset(
        name for name, _ in decision.growing_types if hook(type_name=name, item=item)
    )


def _confirm_growth(
    driver: ItemDriver,
    settle_time: float,
    prune: Callable[[], object] | None = None,
) -> tuple[Confirmation | None, int]:
    """Bytes-only growth: is it the heap's, or tracing catching up?

    :param prune: drops what the connections keep and would drop themselves
        (see sqlite_cursors), after each run.
    """
    runs = 0

    def run() -> bool:
        nonlocal runs
        _, done = run_until(driver, 1)
        runs += done
        if prune is not None:
            prune()
        return bool(done)

    try:
        with failures_unseen():
            return confirm(run, LateThreads(settle_time).wait), runs
    except Exception:  # a hostile object in a snapshot: keep the verdict
        return None, runs


def _fill_bounded_caches(
    driver: ItemDriver,
    probe: MemoryProbe,
    policy: Policy,
    runs: int,
    after_run: Callable[[], None],
) -> tuple[str, MemoryDecision | None, int] | None:
    """Tell a bounded cache that is still filling from a leak.

    If bounded containers (``deque(maxlen=...)``, ``lru_cache(maxsize=...)``)
    grow during one more run, run until they are full and measure again: a
    cache that is full stops growing, a leak does not.  A cache too large to
    fill in ``MAX_FILL_RUNS`` runs is not judged (decision None): zero false
    positives come first.
    """
    from . import bounded
    from .probes import automatic_gc_paused

    with automatic_gc_paused():
        before = bounded.snapshot(probe)
    # Caches leakguard itself clears between runs (typing's) refill in every
    # run: both snapshots are taken after clearing them.
    _, done = run_until(driver, 1, clear_interpreter_caches)
    with automatic_gc_paused():
        after = bounded.snapshot(probe)
    growing = bounded.growing(before, after)
    del before, after
    if not done or not growing:
        return None
    needed = max(math.ceil(g.remaining / max(g.growth, 1)) for g in growing)
    labels = ", ".join(g.label for g in growing)
    if any(g.batched for g in growing):
        # Full, it drops a batch, then grows again: no window of runs tells
        # its sawtooth from a leak.
        note = (
            f"growth is held by bounded {labels}, which prunes in batches: not judged"
        )
        return note, None, 1
    if needed > MAX_FILL_RUNS:
        note = (
            f"growth is held by bounded {labels}, {needed} runs from full: not judged"
        )
        return note, None, 1
    _, filled = run_until(driver, needed + 1)
    runs_done = 1 + filled
    decision = _remeasure(driver, probe, policy, runs, after_run)
    # Entries cached before measuring began were frozen out of view: evicting
    # them looks like growth until the cache has turned over once.
    flush = max(g.remaining + g.size for g in growing)
    if decision.leaked and needed + flush <= MAX_FILL_RUNS:
        _, flushed = run_until(driver, flush)
        runs_done += flushed + runs
        decision = _remeasure(driver, probe, policy, runs, after_run)
    runs_done += runs
    verb = "kept growing after" if decision.leaked else "stopped growing once"
    return (
        f"{verb} bounded {labels} filled ({runs_done} extra runs)",
        decision,
        runs_done,
    )


def _without_dead_cursor_references(
    driver: ItemDriver,
    probe: MemoryProbe,
    policy: Policy,
    runs: int,
    after_run: Callable[[], None],
) -> tuple[str, MemoryDecision, int, Callable[[], None], Callable[[], object]] | None:
    """If sqlite3 connections keep dead references to their cursors, measure
    again, dropping them before each sample, as the connections do themselves
    every 200 cursors (see sqlite_cursors).

    :returns: the note, the new decision, the runs, and what the rest of the
        check must use instead of ``after_run`` and after each run (both hold
        the connections, until the check is over).
    """
    from . import sqlite_cursors
    from .probes import automatic_gc_paused

    with automatic_gc_paused():
        connections = sqlite_cursors.connections_in(probe)
    if not connections:
        return None
    prune = sqlite_cursors.pruner(connections)
    if not prune():  # no dead reference kept: not what grew
        return None
    dropped: list[int] = []

    def pruned_then_sampled() -> None:
        dropped.append(prune())
        after_run()

    decision = _remeasure(driver, probe, policy, runs, pruned_then_sampled)
    note = (
        "sqlite3 connections keep a dead weak reference per cursor until every "
        f"200th cursor: measured again dropping them before each sample (up to "
        f"{max(dropped, default=0)} per run)"
    )
    return note, decision, runs, pruned_then_sampled, prune


def _remeasure(
    driver: ItemDriver,
    probe: MemoryProbe,
    policy: Policy,
    runs: int,
    after_run: Callable[[], None],
) -> MemoryDecision:
    probe.restart()
    run_until(driver, runs, after_run)
    return decide(probe.samples(), policy, extended=True)


def _memory_data(
    decision: MemoryDecision, policy: Policy, runs: int, notes: list[str]
) -> dict[str, Any]:
    return {
        "leaked": decision.leaked,
        "method": "traced",
        "runs": runs,
        "bytes_trend": decision.bytes_trend.value,
        "objects_trend": decision.objects_trend.value,
        "bytes_per_run": list(decision.bytes_per_run),
        "objects_per_run": list(decision.objects_per_run),
        "growing_types": [
            [name, list(series)] for name, series in decision.growing_types[:10]
        ],
        "policy": dataclasses.asdict(policy)
        | {"ignore_types": sorted(policy.ignore_types)},
        "notes": notes,
    }
