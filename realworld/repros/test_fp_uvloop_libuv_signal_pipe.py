"""False positive: the first uvloop event loop of the process is blamed for libuv's global pipe.

libuv creates one process-wide pipe pair the first time a loop is initialised
(uv__signal_global_once_init: the lock pipe of its signal handling) and keeps
it for the life of the process.  Whichever test first makes a uvloop loop is
reported as "2 fd left open"; every later one passes.  In anyio's suite:
tests/test_to_thread.py::test_run_in_thread_cancelled[asyncio+uvloop].
Needs uvloop.

    pytest -p no:cacheprovider --leakguard realworld/repros/test_fp_uvloop_libuv_signal_pipe.py
    # before 2372a05: test_first_loop -> LEAKED 2 fd left open (pipe read end (fd N) x2)
    # since: both pass (leakguard has uvloop make its pipe once uvloop is imported)
"""
from __future__ import annotations

import asyncio

import pytest

uvloop = pytest.importorskip("uvloop")


def _one_loop():
    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()


def test_first_loop():
    _one_loop()


def test_second_loop():
    _one_loop()
