"""portalocker <= 1.6.0: a Lock that times out never closes its file handle.

``Lock.acquire()`` opens the lock file, fails to flock() it because another
handle holds the lock, and re-raises ``LockException`` without closing the
file object. The handle is dropped and closed only by the garbage collector,
so nothing but a ``ResourceWarning: unclosed file`` shows it (the fd count is
back to normal after ``gc.collect()``). Fixed in portalocker 1.7.0 by
wolph/portalocker#50 ("Fix ResourceWarning 'unclosed file' if LockException
is raised").
"""
from __future__ import annotations

import atexit
import os
import tempfile

import portalocker

LIBRARY = "portalocker"

LOCK_PATH = os.path.join(tempfile.gettempdir(), "leakguard-portalocker-case.lock")

# One long-lived holder keeps the lock for the whole session (opened once).
_holder = None


def _hold_lock():
    global _holder
    if _holder is None:
        _holder = portalocker.Lock(LOCK_PATH, mode="a", timeout=0)
        _holder.acquire()
        atexit.register(_holder.release)
    return _holder


def test_lock_contention_times_out():
    _hold_lock()
    for _ in range(20):
        contender = portalocker.Lock(LOCK_PATH, mode="a", timeout=0)
        try:
            contender.acquire()
        except portalocker.exceptions.LockException:
            pass
        else:  # pragma: no cover - the holder must keep the lock
            raise AssertionError("lock unexpectedly acquired")
