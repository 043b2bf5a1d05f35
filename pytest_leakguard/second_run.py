"""One-time set-up or a leak: what a test leaves open when it runs once more.

The first test to use a connection pool kept in a module global, a worker
thread started on first use or the thread's default event loop leaves it open,
and so does a test that opens one per call and never closes it.  One run
cannot tell them apart; a second one can.  Run again, the first test reuses
what it set up and leaves nothing new, while the leaky one leaves one more.

Only handles are judged so: a registration (a logging handler, a signal
handler, an atexit callback, a sys hook) is reported whenever it is left in
place, since it changes what every later test runs with, however often the
test adds it.  A resource only known by its ResourceWarning was dropped, and
nothing dropped is ever reused.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .runner import ItemDriver, failures_unseen, passed

#: Kinds whose leftovers a second run confirms (see the module's docstring).
HANDLE_KINDS = frozenset(
    {"socket", "file", "fd", "db-connection", "thread", "process", "asyncio"}
)

#: Kinds the second run left open, from the snapshot taken before it.
LeftOpen = Callable[[], frozenset[str]]


def kinds_left_again(
    item: pytest.Item,
    nextitem: pytest.Item | None,
    left_open_since: Callable[[], LeftOpen],
) -> frozenset[str] | None:
    """Run ``item`` once more, unlogged, and say which kinds it left open again.

    :param left_open_since: called before the run; what it returns is called
        after it and gives the kinds of what was opened in between and is
        still open (settled, described and filtered as for the first run).
    :returns: those kinds, or None when the run did not pass (a test that
        depends on its first run's state cannot be judged so).
    """
    left_open = left_open_since()
    driver = ItemDriver(item, resources=True)
    with failures_unseen():
        reports = driver.run()
        reports += driver.finish(nextitem)
    driver.keep_newest_properties()
    # Its warnings are not replayed: the first run's were shown already.
    if not passed(reports):
        return None
    return left_open()
