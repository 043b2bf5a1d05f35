"""Threads a test started and left running.

A background thread that outlives its test keeps polling, holds sockets and
objects alive and can fail a later test at random.  ``threading.enumerate()``
costs a couple of microseconds, so the snapshot is just that.  ``describe``
adds what helps to stop the thread: where it runs now (its innermost frame of
user code, from ``sys._current_frames()``) and where it was started
(:mod:`.sites`).

Keys are ``thread:<ident>:<native id>:<name>``: idents are reused as soon as
a thread ends, the native id and name make a reused one count as new.

Start sites come from the ``_thread.start_new_thread`` audit event (3.12+,
``_thread.start_joinable_thread`` on 3.13+).  Older Pythons do not audit
thread starts, so :meth:`ThreadChecker.install` wraps the private alias
``threading._start_new_thread`` there, and its ``uninstall`` puts it back;
the wrapper only tests a flag while :mod:`.sites` is not recording.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any

from . import sites
from .base import Resource

_DIGITS = r"\d+"  # compiled on first use (re caches it)


# Process-wide pools that keep idle workers for reuse and retire them on their
# own: a bounded cache by design, not a test's leak.  (module, class) of the
# object whose bound method the worker thread runs -> the name of that method,
# in which an idle worker waits for its next job.
POOL_WORKERS: dict[tuple[str, str], str] = {
    # trio.to_thread's cache: idle workers exit after IDLE_TIMEOUT (10 s)
    ("trio._core._thread_cache", "WorkerThread"): "_work",
}


def _idle_method(thread: threading.Thread) -> str | None:
    """Where an idle worker of ``thread``'s pool waits; None: not a pool worker."""
    owner = getattr(getattr(thread, "_target", None), "__self__", None)
    kind = type(owner)
    return POOL_WORKERS.get(
        (getattr(kind, "__module__", ""), getattr(kind, "__qualname__", ""))
    )


def is_pool_worker(thread: threading.Thread) -> bool:
    """Whether ``thread`` runs a worker of one of :data:`POOL_WORKERS`."""
    return _idle_method(thread) is not None


def is_busy_pool_worker(thread: threading.Thread, frames: dict[int, FrameType]) -> bool:
    """A pool worker that is not waiting for a job: it still runs one.

    A call abandoned on cancel runs on after its test, then the worker
    delivers the result: what it holds meanwhile is not the test's growth,
    and while it is busy the next run's call starts a new worker.

    :param frames: ``sys._current_frames()``, read once by the caller.
    """
    idle_in = _idle_method(thread)
    frame = frames.get(thread.ident or 0)
    return idle_in is not None and frame is not None and frame.f_code.co_name != idle_in


#: One entry per thread of the process, Python's and any library's own.
TASK_DIR = "/proc/self/task"


def alone_in_process() -> bool:
    """Whether the calling thread is the process's only one: no thread of
    Python's nor of a C library's (libuv, gRPC) runs beside it.  False when
    the kernel does not say (no ``/proc``)."""
    try:
        return len(os.listdir(TASK_DIR)) == 1
    except OSError:
        return False


def thread_key(thread: threading.Thread) -> str:
    """The snapshot identity of ``thread``."""
    return f"thread:{thread.ident}:{thread.native_id}:{thread.name}"


def _thread_registry() -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """The thread objects ``threading`` knows: started, and starting.

    Private dicts, read without the lock (one C call each, as ``enumerate``
    does under it): a thread moves from the starting to the started ones
    once its ident is known, so a change of ident or a new or ended thread
    changes this tuple.  Compared with ``==``, which is identity for
    threads.  None where a Python lacks them: the caller then always lists.
    """
    active = getattr(threading, "_active", None)
    limbo = getattr(threading, "_limbo", None)
    if not isinstance(active, dict) or not isinstance(limbo, dict):
        return None
    try:
        return tuple(active.values()), tuple(limbo.values())
    except RuntimeError:  # changed size while copied, by another thread
        return None


class ThreadChecker:
    """Finds ``threading`` threads a test started that are still alive.

    :ivar unavailable_reason: always None: threading works everywhere.
    """

    kind = "thread"
    unavailable_reason: str | None = None

    def __init__(self) -> None:
        watch_thread_starts()
        self._wrapped_start: Any = None  # our wrapper, before Python 3.12
        #: The registry at the last snapshot (held until the next one, so
        #: that no thread object's address can be reused meanwhile).
        self._last_state: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None
        self._last_keys: frozenset[str] = frozenset()

    def snapshot(self) -> frozenset[str]:
        """One key per thread known to ``threading`` (including dummy threads).

        Keys are rebuilt only when ``threading``'s registry holds other thread
        objects than at the last snapshot (see :func:`_thread_registry`).  A
        thread renamed meanwhile keeps its key: it is the same thread.
        """
        state = _thread_registry()
        if state is None or state != self._last_state:
            self._last_keys = frozenset(
                [thread_key(t) for t in threading.enumerate() if not is_pool_worker(t)]
            )
        self._last_state = state
        return self._last_keys

    def install(self) -> None:
        """Count thread starts before Python 3.12 (see the module's docstring)."""
        if self._wrapped_start is None:
            self._wrapped_start = _wrap_thread_start()

    def uninstall(self) -> None:
        """Put ``threading._start_new_thread`` back if our wrapper is still there.

        It must not outlive the session: through it, ``threading`` would keep
        leakguard's modules, and pytest's with them, alive at exit.
        """
        wrapper, self._wrapped_start = self._wrapped_start, None
        if wrapper is not None and threading._start_new_thread is wrapper:  # type: ignore[attr-defined]
            threading._start_new_thread = wrapper.__wrapped__  # type: ignore[attr-defined]

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe the threads of ``keys`` that are still alive."""
        wanted = set(keys)
        threads = [t for t in threading.enumerate() if thread_key(t) in wanted]
        frames = sys._current_frames()
        try:
            return [self._resource(t, frames.get(t.ident or 0)) for t in threads]
        finally:
            del frames  # frames hold every thread's locals: don't keep them

    def _resource(self, thread: threading.Thread, frame: FrameType | None) -> Resource:
        creator, foreign = sites.creator_of(thread)
        return Resource(
            kind=self.kind,
            key=thread_key(thread),
            description=describe_thread(thread, frame),
            site=sites.site_of(thread),
            thread=creator,
            foreign=foreign,
            fingerprint=f"thread {type(thread).__qualname__} "
            f"'{re.sub(_DIGITS, 'N', thread.name)}'",
        )


def describe_thread(thread: threading.Thread, frame: FrameType | None) -> str:
    """``Thread 'poller' (daemon=False) running at app/poll.py:31 in poll() -> wait()``.

    The user frame says which loop to stop; the innermost function, what the
    thread is blocked in.
    """
    text = f"{type(thread).__name__} '{thread.name}' (daemon={thread.daemon})"
    if frame is None:
        return f"{text}, not running Python code"
    where = sites.find_user_site(frame)
    innermost = frame.f_code.co_name
    if where is None:
        return f"{text} running in {innermost}()"
    text += f" running at {where}"
    if where.func:
        text += f" in {where.func}()"
    if where.func != innermost:
        text += f" -> {innermost}()"
    return text


def watch_thread_starts() -> None:
    """Have :mod:`.sites` record where each ``threading.Thread`` starts."""
    for event in sites.THREAD_START_EVENTS:
        sites.watch(event, _on_thread_start)


def _on_thread_start(args: tuple[Any, ...]) -> None:
    # Thread.start hands over the bound Thread._bootstrap
    thread = getattr(args[0], "__self__", None)
    if isinstance(thread, threading.Thread):
        sites.record(thread, "thread")


def _wrap_thread_start() -> Any:
    """Before 3.12: wrap ``threading._start_new_thread`` (used only by
    ``Thread.start``) unless someone (gevent, another session's checker)
    replaced it already; return the wrapper, or None."""
    import _thread

    real = getattr(threading, "_start_new_thread", None)
    if sys.version_info >= (3, 12) or real is not _thread.start_new_thread:
        return None  # audited, or already replaced

    @functools.wraps(real)
    def start_new_thread(function: Any, args: Any, *kwargs: Any) -> Any:
        sites.note_thread_start()
        if sites.is_recording():
            with contextlib.suppress(Exception):
                _on_thread_start((function,))
        return real(function, args, *kwargs)

    threading._start_new_thread = start_new_thread  # type: ignore[attr-defined]
    return start_new_thread
