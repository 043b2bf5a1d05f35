"""The contract every resource checker follows, built-in or from a conftest.

A checker answers two questions cheaply: *what is open now* (``snapshot``) and,
only for what a test left behind, *what is it and where was it created*
(``describe``).  Snapshots hold stable string identities, never the resources
themselves, so taking one cannot keep a socket or a thread alive.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol, runtime_checkable

#: The answer of a checker that finds nothing: one shared set, so that an
#: unchanged answer is the same object (see ``ResourceGuard.snapshot``).
NOTHING: frozenset[str] = frozenset()


class SameAnswer:
    """Turns a checker's keys into its answer: the last answer itself when
    the keys are the same, so that an unchanged answer is the same object."""

    __slots__ = ("last",)

    def __init__(self) -> None:
        self.last = NOTHING

    def __call__(self, keys: Iterable[str]) -> frozenset[str]:
        answer = frozenset(keys)
        if answer == self.last:
            return self.last
        self.last = answer = answer or NOTHING
        return answer


class Resource(NamedTuple):
    """One resource a test (or fixture) left open, already formatted for reports.

    :param kind: the JSON ``kind`` (``socket``, ``fd``, ``thread`` ...).
    :param key: identity inside one process run, as returned by ``snapshot``.
    :param description: what it is, for people: ``socket 127.0.0.1:5 -> ...``.
    :param site: ``path.py:31`` where it was created, when known.
    :param fingerprint: identity that holds across machines and runs (no
        addresses, fds or ports), used by baselines and allowlists.
    :param owned_fds: descriptors this resource accounts for (an event loop's
        selector and self-pipe, a database's file), so they are not reported
        again as sockets, files or fds.
    :param thread: ident of the thread that created it, when recorded: what a
        fixture's server thread opens belongs to the fixture, not the test.
    :param foreign: created by a thread that is not the test's, even one that
        has ended since (see :func:`.sites.creator_of`): not the test's leak.
    :param opened_as: for a resource known by its ResourceWarning, the keys
        the snapshots gave it while it was open (its descriptor's, its event
        loop's): one that was open before the test began is not the test's.
    """

    kind: str
    key: str
    description: str
    site: str | None = None
    fingerprint: str = ""
    owned_fds: frozenset[int] = frozenset()
    thread: int | None = None
    foreign: bool = False
    opened_as: frozenset[str] = frozenset()


@runtime_checkable
class ResourceChecker(Protocol):
    """Finds one kind of resource.

    ``snapshot`` runs before and after every checked test, so it must cost
    little more than listing what exists (no heap walks).  ``describe`` runs
    only for leftovers and may do more work.  Both must never raise for a
    resource that vanished or cannot be inspected: skip it (and say so in the
    description when partially known).

    A checker may also have ``signals``: a tuple of cheap callables taking no
    argument, such that while each returns the very object (``is``) it
    returned before the checker's last snapshot, that snapshot's answer still
    holds.  A checker without them is its own signal: its snapshot, asked
    once per round.  When no signal moved since the last full round, the
    round is quiet (most tests change nothing): the guard keeps that round's
    answers and does not ask the checkers that have signals.  So a snapshot
    should answer with the very same set object while nothing changed.
    """

    kind: str

    def snapshot(self) -> frozenset[str]:
        """Identities of the resources of this kind that are open now."""
        ...

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe those of ``keys`` that are still open; drop the others."""
        ...
