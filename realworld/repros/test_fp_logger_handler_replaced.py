"""False positive: a library that *replaces* its own logger's handler on every start.

hypercorn (0.17.3, ``hypercorn/logging.py:33-37``, ``_create_logger``) configures
its ``hypercorn.error`` logger each time a ``Config``'s logger is built, i.e. on
every server start, with ``logger.handlers = [logging.StreamHandler(sys.stderr)]``:
the list is *replaced*, so the logger has exactly one handler however many servers
ran.  urllib3 2.2.3's suite starts a hypercorn server per test
(``test/with_dummyserver/test_connection.py``'s ``pool`` fixture, the
``TestHTTPS_Hostname`` tests) or per class (``HypercornDummyServerTestCase.setup_class``),
stops it at teardown, and 39 of its tests were failed under ``--leakguard`` with
"logging handler StreamHandler(<EncodedFile>) on logger 'hypercorn.error'" -- some
as "fixture _xunit_setup_class_fixture_X (class scope) left open".

Nothing accumulated: before and after each test the logger holds one handler on the
same stream.  ``resources/logging_handlers.py`` keys a handler by ``id(handler)``
(``_key``), so a swap (one handler gone, one new) reads as a new handler left
open, and logging handlers are never given the second run that tells a per-call
leak from a steady state (README, *Resource checks*).

    cd realworld/repros
    pytest -p no:cacheprovider test_fp_logger_handler_replaced.py               # 4 passed
    pytest -p no:cacheprovider --leakguard test_fp_logger_handler_replaced.py   # before the fix: 4 LEAKED
                                                                                # (the class test twice: as the test and as its class fixture)

Fixed (F20): a handler is now known by its class and logger, counted, not by
``id()``; a swap is no handler left.  Now 1 LEAKED, ``test_first_server_configures_the_logger``:
the first start leaves a handler where there was none, and a logging handler left in
place is reported however often the test would add it (it changes what every later
test logs with; README, *Resource checks*).  A suite that starts such a server
accepts it with ``leakguard_allow = logging-handler:*on logger 'hypercorn.error'*``.
"""

from __future__ import annotations

import logging
import sys

import pytest


def start_server() -> None:
    """What hypercorn's ``Logger(config)`` does to its error logger on every start."""
    logger = logging.getLogger("fakeserver.error")
    logger.handlers = [logging.StreamHandler(sys.stderr)]


def test_first_server_configures_the_logger():
    start_server()  # 0 -> 1 handler: the library's one-time configuration


@pytest.fixture
def server():
    start_server()  # replaces the one handler: still 1
    yield
    # the server stops; the library leaves its logger as it is


def test_per_test_server(server):
    assert len(logging.getLogger("fakeserver.error").handlers) == 1


def test_another_per_test_server(server):
    assert len(logging.getLogger("fakeserver.error").handlers) == 1


class TestClassServer:
    @classmethod
    def setup_class(cls):
        start_server()

    def test_uses_the_class_server(self):
        assert len(logging.getLogger("fakeserver.error").handlers) == 1
