"""One-time set-up or a leak: what a test leaves open when it runs once more.

The first test to use a connection pool kept in a module global, a worker
thread started on first use or the thread's default event loop leaves it open,
and so does a test that opens one per call and never closes it.  One run
cannot tell them apart; a second one can.  Run again, the first test reuses
what it set up and leaves nothing new, while the leaky one leaves one more.
A test that replaces what it keeps (closes the connection its last call
made, then makes another) leaves something new but no more than before:
however often it runs, it holds one, and that is no leak either.

Handles are judged so, and atexit callbacks: a callback changes nothing until
the interpreter exits, so what matters is whether it piles up (certifi's
``where()`` registers its clean-up once, on its first call, from whichever
test first makes an SSL context).  A registration that changes what every
later test runs with (a logging handler, a signal handler, a sys hook) is
reported whenever it is left in place, however often the test adds it.  A
resource only known by its ResourceWarning was dropped, and nothing dropped
is ever reused.
"""

from __future__ import annotations

from collections import Counter

import pytest

from .resources.base import Resource
from .runner import ItemDriver, failures_unseen, passed

#: Kinds whose leftovers a second run confirms (see the module's docstring).
SECOND_RUN_KINDS = frozenset(
    {"socket", "file", "fd", "db-connection", "thread", "process", "asyncio", "atexit"}
)


def ran_again(
    item: pytest.Item, nextitem: pytest.Item | None
) -> tuple[bool, list[Resource]]:
    """Run ``item`` once more, unlogged, with its failures unseen.

    :returns: whether it passed (a test that depends on its first run's state
        cannot be judged by a second one), and what the run dropped unclosed
        (its ResourceWarnings: a first run's file that the second one dropped
        was not closed).  Its warnings are not replayed: the first run's were
        shown already.
    """
    driver = ItemDriver(item, resources=True)
    with failures_unseen():
        # Torn down for the real next item, as the first run was: a plugin
        # that follows the scopes through the teardown hooks sees them end.
        reports = driver.run_once(nextitem)
        reports += driver.finish(nextitem)
    driver.keep_newest_properties()
    return passed(reports), driver.warnings.unclosed


def kinds_that_grew(
    first: list[Resource],
    again: list[Resource],
    open_now: dict[str, frozenset[str]],
    dropped: list[Resource],
) -> set[str]:
    """The kinds of which the second run left more open than it closed of
    the first run's leftovers.

    :param first: what the first run left open.
    :param again: what the second run opened and left open.
    :param open_now: a snapshot taken right after the second run, before
        any settling: a thread of the first run's that ends on its own
        while the check waits was not replaced.
    :param dropped: what the second run dropped unclosed (ResourceWarnings):
        a first run's leftover among them was not closed but let go.
    """
    still_open = frozenset().union(*open_now.values())
    let_go = frozenset().union(*(r.opened_as for r in dropped))
    replaced = Counter(
        r.kind for r in first if r.key not in still_open and r.key not in let_go
    )
    left = Counter(r.kind for r in again)
    return {kind for kind, count in left.items() if count > replaced[kind]}
