"""What a broader-scoped fixture opens is the fixture's, not its first test's.

A module-, class- or session-scoped fixture is set up inside the first test
that uses it.  Its setup is snapshotted on its own: what it opened is left out
of every test's leftovers while it lives, and checked at the fixture's own
teardown, where what it did not release becomes the fixture's leak (its name
and scope), reported on the test during which the teardown ran.

What is still open at the fixture's teardown is described there, while it
lives, and judged once the test's whole teardown has run: a teardown hook
may release it after the fixtures (SQLAlchemy's plugin disposes of its
engine's pool once the class's last test is torn down, FINDINGS F25).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from .report import resource_leaks
from .resources import Resource, sites
from .resources.guard import ResourceGuard, Snapshot


class FixtureOwnership:
    """The resources each live broader fixture opened, and its leaks found at teardown."""

    def __init__(self) -> None:
        #: id(fixturedef) -> (the fixturedef, which keeps that id its own,
        #: its scope, identities it opened during its setup).  By definition,
        #: not by name: a function-scoped fixture may override a broader one
        #: of the same name and request it (requests' ``httpbin`` wraps
        #: pytest-httpbin's), and its teardown is not the broader one's.
        self._owned: dict[int, tuple[object, str, Snapshot]] = {}
        #: Leaks found at teardowns since the last take_leaks() (tested per test).
        self.leaks: list[dict[str, Any]] = []
        #: What fixtures torn down since the last take_leaks() left open:
        #: reported as theirs, so not as the current test's as well (a
        #: module fixture set up and torn down during one test, say).
        self.released: list[dict[str, frozenset[str]]] = []
        #: What fixtures left open at their teardown, described then and
        #: judged by :meth:`judge_torn_down` (see the module's docstring).
        self.pending: list[tuple[dict[str, frozenset[str]], list[Resource], str]] = []

    @contextmanager
    def setting_up(
        self, fixturedef: pytest.FixtureDef[Any], guard: ResourceGuard
    ) -> Iterator[None]:
        """Snapshot around the fixture's setup; what it creates is not the test's."""
        before = guard.snapshot()
        try:
            with sites.for_a_broader_fixture():
                yield
        finally:
            opened = {
                k: v - before.get(k, frozenset()) for k, v in guard.snapshot().items()
            }
            self._owned[id(fixturedef)] = (
                fixturedef,
                fixturedef.scope,
                {k: v for k, v in opened.items() if v},
            )

    def torn_down(
        self,
        fixturedef: pytest.FixtureDef[Any],
        guard: ResourceGuard | None,
        keep: Callable[[list[Resource]], list[Resource]],
    ) -> None:
        """Note what the fixture did not release of what it opened, for
        :meth:`judge_torn_down`; ``keep`` filters it (allow rules, the ignore
        hook)."""
        owned = self._owned.pop(id(fixturedef), None)
        if owned is None or guard is None:
            return
        _, scope, opened = owned
        # A broader fixture set up during this one's setup (requested with
        # getfixturevalue, as pytest-asyncio requests its loop runner) is in
        # ``opened`` too, and outlives this one: what it opened is checked at
        # its own teardown.
        left = guard.still_open(self.left_out(opened), 0.0)
        if left:
            self.released.append(left)
            label = f"{fixturedef.argname} ({scope} scope)"
            self.pending.append((left, keep(guard.describe(left)), label))

    def judge_torn_down(
        self, guard: ResourceGuard, settle_time: float, dropped: list[Resource]
    ) -> None:
        """Once the test's teardown is over: what the torn-down fixtures left
        open and nobody closed since is their leak.

        :param dropped: what the test dropped unclosed (ResourceWarnings): a
            leftover let go unclosed was not released.
        """
        pending, self.pending = self.pending, []
        let_go = frozenset().union(*(r.opened_as for r in dropped))
        for left, found, label in pending:
            still = guard.still_open(left, 0.0)
            if still:
                # Only with something still open is a full collection worth
                # it: a selector that a server thread dropped in a reference
                # cycle is garbage, not left open (websockets' sync server).
                # Then stragglers get the settle time, as for a test.
                gc.collect()
                still = guard.still_open(still, settle_time)
            kept = [
                r
                for r in found
                if r.key in still.get(r.kind, frozenset()) or r.key in let_go
            ]
            for leak in resource_leaks(kept):
                leak["fixture"] = label
                leak["summary"] = f"fixture {label} left open: {leak['summary']}"
                self.leaks.append(leak)

    def left_out(self, new: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        """``new`` less what the live broader fixtures opened in their setup,
        and what those torn down meanwhile left (see :attr:`released`)."""
        for owned in [
            *(owned for _, _scope, owned in self._owned.values()),
            *self.released,
        ]:
            new = {
                kind: keys - owned.get(kind, frozenset()) for kind, keys in new.items()
            }
        return {kind: keys for kind, keys in new.items() if keys}

    def take_leaks(self) -> list[dict[str, Any]]:
        """The fixtures' leaks found since the last call (for the current test)."""
        leaks, self.leaks, self.released = self.leaks, [], []
        return leaks

    @contextmanager
    def leaks_not_found_again(self) -> Iterator[None]:
        """Forget the leaks that teardowns find meanwhile: a test run again
        tears down fixtures whose teardown was checked once already."""
        kept, pending = list(self.leaks), list(self.pending)
        try:
            yield
        finally:
            self.leaks, self.pending = kept, pending
