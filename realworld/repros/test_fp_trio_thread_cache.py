"""False positive: trio's worker-thread cache is reported as threads left open.

trio.to_thread.run_sync() hands work to trio's thread cache
(trio/_core/_thread_cache.py), whose idle workers wait up to IDLE_TIMEOUT
= 10 s for the next job before exiting: a bounded pool by design.  leakguard
waits settle_time (1 s) and reports the idle worker.  Later tests reuse it,
so only the test that grew the pool is blamed (in anyio's suite:
test_run_in_thread_exception[trio], test_run_in_custom_limiter[trio]).
Needs trio.

    pytest -p no:cacheprovider --leakguard realworld/repros/test_fp_trio_thread_cache.py
    # test_first -> LEAKED ... thread left open (Trio thread 0); test_second passes
"""
from __future__ import annotations

import pytest

trio = pytest.importorskip("trio")


async def _work():
    await trio.to_thread.run_sync(lambda: None)


def test_first():
    trio.run(_work)


def test_second():
    trio.run(_work)
