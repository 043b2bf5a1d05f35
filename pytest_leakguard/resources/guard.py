"""Snapshot every checker around a test, let stragglers settle, describe the rest.

"Settle, then judge" (goleak's habit): a thread that finishes a few
milliseconds after teardown, or a socket closed by a callback, is given a
short, bounded time to go away before it is reported.
"""

from __future__ import annotations

import fnmatch
import itertools
import operator
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import lazy_globals
from .base import Resource, ResourceChecker
from .fds import forget_reading, share_fd_table, unshare_fd_table
from .threads import alone_in_process

Snapshot = dict[str, frozenset[str]]
FdTable = dict[int, tuple[int, int, int]]  # fd -> (type, device, inode)
_FIRST_PAUSE = 0.002
# Registrations never undo themselves: waiting for them would only cost time.
NEVER_SETTLE = frozenset({"logging-handler", "signal-handler", "atexit", "sys-hook"})
#: Kinds that may go away while no thread of the process runs: a child
#: process ends on its own.
SETTLE_ALONE = frozenset({"process"})
#: ``map(isinstance, answers, _FROZENSET)`` tests every answer in C.
_FROZENSET = itertools.repeat(frozenset)


class AllowRule:
    """``kind:pattern`` from the ini file or a marker; fnmatch on the description
    (a plain class: a NamedTuple costs a fifth of a millisecond to define at start-up)."""

    __slots__ = ("kind", "pattern")

    def __init__(self, kind: str, pattern: str) -> None:
        self.kind = kind
        self.pattern = pattern

    def __repr__(self) -> str:
        return f"AllowRule({self.kind!r}, {self.pattern!r})"

    def allows(self, resource: Resource) -> bool:
        if self.kind not in ("*", resource.kind):
            return False
        return any(
            fnmatch.fnmatchcase(text, self.pattern)
            for text in (
                resource.description,
                resource.fingerprint,
                resource.site or "",
            )
        )


def parse_allow_rules(
    lines: Iterable[str], known_kinds: Iterable[str], where: str
) -> tuple[AllowRule, ...]:
    """Parse ``kind:pattern`` lines.

    :raises ValueError: naming the entry, where it came from and the kinds.
    """
    kinds = set(known_kinds) | {"*"}
    rules = []
    for line in lines:
        kind, sep, pattern = line.partition(":")
        kind, pattern = kind.strip(), pattern.strip()
        if not sep or not pattern:
            raise ValueError(
                f"invalid allow entry {line!r} in {where}: expected 'kind:pattern', e.g. 'thread:*poller*'"
            )
        if kind not in kinds:
            raise ValueError(
                f"invalid allow entry {line!r} in {where}: unknown kind {kind!r}; kinds are {', '.join(sorted(kinds))}"
            )
        rules.append(AllowRule(kind, pattern))
    return tuple(rules)


class ResourceGuard:
    """Runs the checkers; holds no resource, only string identities."""

    def __init__(self, checkers: Sequence[ResourceChecker], notes: list[str]) -> None:
        self.checkers = list(checkers)
        self.notes = notes
        self._kinds = tuple(checker.kind for checker in self.checkers)
        self._takers = tuple(checker.snapshot for checker in self.checkers)
        #: The answers of the last snapshot round, in checker order.
        self._last_answers: list[frozenset[str]] = []
        #: The descriptor table of the last snapshot round.
        self.last_fd_table: FdTable | None = None
        #: The last snapshot round's result.
        self.last_snapshot: Snapshot = {}
        #: What the checkers' answers depend on (see ``_signal_plan``), and
        #: per checker, which signal is its answer (None: ask it).
        self._signals, self._answer_at = _signal_plan(self.checkers)
        #: The signals read for the last full round (None: none was complete).
        self._last_signals: list[object] | None = None

    @property
    def kinds(self) -> list[str]:
        return [checker.kind for checker in self.checkers]

    def snapshot(self, fd_table: FdTable | None = None) -> Snapshot:
        """What every checker sees now; a failing checker is noted and skipped.

        :param fd_table: a descriptor table read earlier and known to be still
            true (nothing opened since), to save reading /proc again.
        """
        if lazy_globals.due():  # kept while sys.modules keeps its size
            created, notes = lazy_globals.create_for_imported()
            for note in notes:
                self._note(note)
            if created:
                fd_table = None  # it may have opened descriptors since
        # This runs once or twice per test: comprehensions, and the rest in
        # C.  A failing checker makes the round go again, one checker at a
        # time, to note it and go on without it (and the next round asks
        # every checker again).
        try:
            signals: list[object] | None = [read() for read in self._signals]
        except Exception:
            signals = None
        before, self._last_signals = self._last_signals, None
        if (
            signals is not None
            and before is not None
            and all(map(operator.is_, signals, before))
        ):
            self._last_signals = before
            return self.last_snapshot  # a quiet round: every answer stands
        self.last_fd_table = share_fd_table(fd_table)
        try:
            answers: list[Any] | None = None  # a signal's answer is an object
            if signals is not None:
                try:
                    answers = [
                        take() if at is None else signals[at]
                        for take, at in zip(self._takers, self._answer_at, strict=True)
                    ]
                except Exception:
                    signals = None
            if answers is None:
                answers = [self._snapshot(checker) for checker in self.checkers]
            if not all(map(isinstance, answers, _FROZENSET)):
                answers = [frozenset(keys) for keys in answers]
            last = self._last_answers
            if len(answers) != len(last) or not all(map(operator.is_, answers, last)):
                self._last_answers = answers
                self.last_snapshot = dict(zip(self._kinds, answers, strict=True))
            # else every checker answered with the set of the last round: that
            # round's snapshot itself, so that comparing it is one test.
            self._last_signals = signals
            return self.last_snapshot
        finally:
            unshare_fd_table()

    def _snapshot(self, checker: ResourceChecker) -> frozenset[str]:
        try:
            keys = checker.snapshot()
            return keys if isinstance(keys, frozenset) else frozenset(keys)
        except Exception as exc:
            return self._failed(checker, exc)

    def _failed(self, checker: ResourceChecker, exc: Exception) -> frozenset[str]:
        self._note(
            f"resource checker {checker.kind!r} failed: {type(exc).__name__}: {exc}"
        )
        return frozenset()

    def new_since(
        self, before: Snapshot, settle_time: float
    ) -> dict[str, frozenset[str]]:
        """Identities that appeared since ``before`` and stayed, after settling."""
        return self.new_in(before, self.snapshot(), settle_time)

    def new_in(
        self, before: Snapshot, after: Snapshot, settle_time: float
    ) -> dict[str, frozenset[str]]:
        """Identities of ``after`` (just taken) not in ``before`` that stayed,
        after settling."""
        return self._settled(self._diff(before, after), settle_time)

    def settle(
        self, left: dict[str, frozenset[str]], settle_time: float
    ) -> dict[str, frozenset[str]]:
        """Those of ``left`` (just found new) still open after letting
        stragglers settle."""
        return self._settled(left, settle_time)

    def still_open(
        self, opened: Snapshot, settle_time: float
    ) -> dict[str, frozenset[str]]:
        """Those of ``opened`` still open, after letting stragglers settle
        (read afresh: see :meth:`fresh_snapshot`)."""
        return self._settled(
            self._intersect(opened, self.fresh_snapshot()), settle_time
        )

    def fresh_snapshot(self) -> Snapshot:
        """A snapshot that lists the descriptors again, for the checks that
        judge rather than only look (see :func:`.fds.forget_reading`)."""
        forget_reading()
        return self.snapshot()

    def _settled(
        self, left: dict[str, frozenset[str]], settle_time: float
    ) -> dict[str, frozenset[str]]:
        """Re-check ``left`` with growing pauses until it is gone or time is up.

        No pause when the checking thread is the process's only one and no
        child process is left: nothing could close a leftover meanwhile (a
        leak confirmed by a second run would otherwise cost two settle times).
        """
        if not left:
            return left
        if SETTLE_ALONE.isdisjoint(left) and alone_in_process():
            return left
        pause, deadline = _FIRST_PAUSE, time.monotonic() + settle_time
        while (
            any(kind not in NEVER_SETTLE for kind in left)
            and time.monotonic() < deadline
        ):
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause *= 2
            forget_reading()  # what stays is reported: from a true table
            left = self._intersect(
                left, {kind: self._snapshot(self._checker(kind)) for kind in left}
            )
        return left

    def install(self) -> None:
        """Let checkers that wrap a registration function put their wrapper in."""
        for checker in self.checkers:
            install = getattr(checker, "install", None)
            if callable(install):
                install()

    def uninstall(self) -> None:
        for checker in self.checkers:
            uninstall = getattr(checker, "uninstall", None)
            if callable(uninstall):
                try:
                    uninstall()
                except Exception as exc:
                    self._note(
                        f"resource checker {checker.kind!r} could not uninstall: {exc}"
                    )

    @staticmethod
    def _intersect(wanted: Snapshot, current: Snapshot) -> dict[str, frozenset[str]]:
        both = {
            kind: keys & current.get(kind, frozenset()) for kind, keys in wanted.items()
        }
        return {kind: keys for kind, keys in both.items() if keys}

    def describe(self, new: dict[str, frozenset[str]]) -> list[Resource]:
        """Describe the leftovers; an fd that is a leaked socket or file is told once."""
        from .fds import drop_duplicates

        return drop_duplicates(self._describe(new))

    def _describe(self, new: dict[str, frozenset[str]]) -> list[Resource]:
        resources: list[Resource] = []
        for kind, keys in new.items():
            checker = self._checker(kind)
            try:
                resources.extend(checker.describe(sorted(keys)))
            except Exception as exc:
                self._note(
                    f"resource checker {kind!r} could not describe {len(keys)} resource(s): {type(exc).__name__}"
                )
                resources.extend(
                    Resource(kind, key, f"{kind} {key} (not described)", None, kind)
                    for key in sorted(keys)
                )
        return resources

    @staticmethod
    def _diff(before: Snapshot, after: Snapshot) -> dict[str, frozenset[str]]:
        if after is before:  # an unchanged round (see snapshot)
            return {}
        new = {}
        for kind, keys in after.items():
            old = before.get(kind)
            if keys is old:  # a checker that saw no change answers with the same set
                continue
            added = keys - old if old is not None else keys
            if added:
                new[kind] = added
        return new

    def _checker(self, kind: str) -> ResourceChecker:
        return next(c for c in self.checkers if c.kind == kind)

    def _note(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)


def _signal_plan(
    checkers: Sequence[ResourceChecker],
) -> tuple[tuple[Callable[[], object], ...], tuple[int | None, ...]]:
    """The signals to read each round, each once, and per checker the index
    of the one that is its answer.

    A checker's ``signals`` are read instead of asking it (the descriptor
    checkers share theirs); a checker without them is its own signal, so
    that it is asked once per round.
    """
    signals: dict[int, int] = {}  # id -> index: a signal may not be hashable
    readers: list[Callable[[], object]] = []
    answer_at: list[int | None] = []
    for checker in checkers:
        own = getattr(checker, "signals", None)
        if isinstance(own, tuple) and own and all(map(callable, own)):
            answer_at.append(None)
        else:
            own = (checker.snapshot,)
            answer_at.append(len(readers))
        for signal in own:
            if id(signal) not in signals:
                signals[id(signal)] = len(readers)
                readers.append(signal)
    return tuple(readers), tuple(answer_at)


def filter_allowed(
    resources: Iterable[Resource],
    rules: Sequence[AllowRule],
    ignore: Callable[[Resource], bool],
) -> list[Resource]:
    """Drop what an allow rule or the ignore hook accepts."""
    return [
        r
        for r in resources
        if not any(rule.allows(r) for rule in rules) and not ignore(r)
    ]
