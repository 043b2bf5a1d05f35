"""Standalone, no leakguard: anyio's `test_asyncio_run_does_not_leak_event_loop` races its worker thread.

The test runs `anyio.run()` with one `to_thread.run_sync()` call, then `gc.collect()`, and
expects the event loop to be gone.  The loop is still referenced while the idle
"AnyIO worker thread" has not exited yet, which it does asynchronously after the loop
closes; repeated, the test fails now and then with no plugin involved (FINDINGS, N1).

Run with anyio's venv:  /tmp/leakguard-realworld/anyio/venv/bin/python realworld/repros/anyio_loop_ref_race.py
(session 5: 23 of 300 calls failed, and 9 and 14 of 300 in two runs with the heap frozen as
leakguard does; the worker thread was alive at each failure).
"""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import anyio
from anyio import to_thread

CALLS = 300


def thread_worker() -> None:
    pass


async def main() -> weakref.ref[object]:
    await to_thread.run_sync(thread_worker)
    return weakref.ref(asyncio.get_running_loop())


def once() -> tuple[bool, list[str]]:
    """The test's body: whether the loop outlived gc.collect(), and the threads then."""
    loop_ref = anyio.run(main)
    gc.collect()
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    return loop_ref() is not None, others


for frozen in (False, True):
    if frozen:
        gc.collect()
        gc.freeze()
    failures, threads_then = 0, None
    for _ in range(CALLS):
        alive, threads = once()
        if alive:
            failures, threads_then = failures + 1, threads
    label = "heap frozen" if frozen else "plain"
    print(
        f"{label}: loop alive after gc.collect() in {failures} of {CALLS} calls; threads then: {threads_then}"
    )
