"""False positive: what a failed test's exception holds, blamed on a later test.

starlette 0.38.6 under ``--leakguard``: ``tests/middleware/test_base.py::
test_multiple_middlewares_stacked_client_disconnected[trio]`` was reported for
"2 unclosed: Unclosed <MemoryObjectReceiveStream>" (and is clean alone).  The
two streams were made by ``test_contextvars[asyncio-CustomMiddlewareUsingBase
HTTPMiddleware]`` and ``[trio-...]``, four and twenty tests earlier: those
tests xfail with an AssertionError raised inside the app, and pytest keeps the
exception for post-mortem debugging in ``sys.last_value`` / ``sys.last_traceback``
(``_pytest/runner.py``, ``pytest_runtest_call``), with the frames that hold the
streams, until the *next* test's call phase deletes them.  By then the
exception's cycle is old: the young collection after the next test (no
collection ran during it, so generation 0 only: ``runner.collect_young_garbage``)
does not reach it, and the streams warn in whichever later test runs the next
full collection.

Passes plain; under ``--leakguard`` test_collects_later (which makes nothing)
was reported for "1 unclosed: unclosed session" (F24).
"""

from __future__ import annotations

import gc
import warnings

import pytest


class Session:
    """Warns when dropped unclosed, as anyio's memory object streams do."""

    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it

    def __del__(self) -> None:
        warnings.warn("unclosed session", ResourceWarning, source=self)


@pytest.mark.xfail(raises=AssertionError, strict=True)
def test_fails_holding_a_session() -> None:
    session = Session()  # noqa: F841 - held by the frame, so by the exception
    gc.collect()  # a full collection here: leakguard collects fully after it
    raise AssertionError("the test's own failure")


def test_next() -> None:
    """pytest's call phase deletes sys.last_value here: the session is garbage now,
    in the oldest generation since the full collection after the previous test."""


def test_collects_later() -> None:
    gc.collect()
