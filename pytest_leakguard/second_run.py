"""One-time set-up or a leak: what a test leaves open when it runs once more.

The first test to use a connection pool kept in a module global, a worker
thread started on first use or the thread's default event loop leaves it open,
and so does a test that opens one per call and never closes it.  One run
cannot tell them apart; a second one can.  Run again, the first test reuses
what it set up and leaves nothing new, while the leaky one leaves one more.

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

import pytest

from .runner import ItemDriver, failures_unseen, passed

#: Kinds whose leftovers a second run confirms (see the module's docstring).
SECOND_RUN_KINDS = frozenset(
    {"socket", "file", "fd", "db-connection", "thread", "process", "asyncio", "atexit"}
)


def ran_again(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """Run ``item`` once more, unlogged, with its failures unseen; say whether
    it passed (a test that depends on its first run's state cannot be judged
    by a second one).  Its warnings are not replayed: the first run's were
    shown already."""
    driver = ItemDriver(item, resources=True)
    with failures_unseen():
        reports = driver.run()
        reports += driver.finish(nextitem)
    driver.keep_newest_properties()
    return passed(reports)
