"""asyncio event loops a test did not close and tasks it left pending.

An unclosed loop keeps its selector and self-pipe (two sockets) open; a task
left pending on it is never run again, never finishes its ``finally`` blocks,
and later dies with "Task was destroyed but it is pending!".

Finding loops cheaply is the hard part: asyncio keeps no registry of them and
``asyncio.all_tasks()`` needs a loop.  While installed, the checker wraps
``asyncio.BaseEventLoop.__init__`` (every stdlib loop, and those made by
``asyncio.run``, ``asyncio.Runner`` and pytest-asyncio, passes through it) and
adds each new loop to a ``weakref.WeakSet`` along with its creation site, so it
never keeps a loop alive.  Loops built elsewhere (uvloop) are still seen when
they are the policy's current loop or the running one.  The wrapper is
installed by the first ``snapshot()`` once asyncio is imported (the plugin never
imports it: a suite without asyncio has no loops, and does not pay for its
import) and removed by ``uninstall()``.  A loop made in the very test that
first imports asyncio is found only if it is current or running; its selector
and self-pipe are still reported by the descriptor checkers.
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

from .base import NOTHING, Resource, SameAnswer
from .sys_hooks import caller_site, creation_site, format_site, is_library_file


def _loaded_asyncio() -> ModuleType | None:
    """asyncio if some code imported it (then loops may exist), else None."""
    return sys.modules.get("asyncio")


def _policy_loop(asyncio: Any) -> asyncio.AbstractEventLoop | None:
    """The policy's current loop, read without creating a policy or a loop."""
    policy = getattr(asyncio.events, "_event_loop_policy", None)  # private, may vanish
    local = getattr(policy, "_local", None)
    loop = getattr(local, "_loop", None)
    return loop if isinstance(loop, asyncio.AbstractEventLoop) else None


def _coroutine_location(task: asyncio.Task[Any]) -> tuple[str, str]:
    """``("app/poller.py:12 poll()", "poller.py:poll")`` for display and fingerprint."""
    coro = task.get_coro()
    code = frame = None
    for prefix in ("cr", "gi", "ag"):
        code = getattr(coro, f"{prefix}_code", None)
        if code is not None:
            frame = getattr(coro, f"{prefix}_frame", None)
            break
    if code is None:
        return f"in {type(coro).__name__}", type(coro).__name__
    lineno = frame.f_lineno if frame is not None else code.co_firstlineno
    # co_qualname is 3.11+; a 3.10 coroutine object knows its qualified name
    name = getattr(code, "co_qualname", None) or getattr(
        coro, "__qualname__", code.co_name
    )
    stable = f"{os.path.basename(code.co_filename)}:{name}"
    return f"in {format_site(code.co_filename, lineno)} {name}()", stable


def _task_site(task: asyncio.Task[Any]) -> str | None:
    """Where the task was created: debug-mode traceback, else ``creation_site``."""
    source = getattr(
        task, "_source_traceback", None
    )  # set when the loop is in debug mode
    if source:
        for entry in reversed(source):
            if not is_library_file(entry.filename):
                return format_site(entry.filename, entry.lineno or 0, entry.name)
    return creation_site(task)


def _loop_fds(loop: asyncio.AbstractEventLoop) -> frozenset[int]:
    """The selector and self-pipe an unclosed loop keeps open (private, guarded)."""
    fds = set()
    for owner, attribute in (
        (loop, "_ssock"),
        (loop, "_csock"),
        (getattr(loop, "_selector", None), ""),
    ):
        target: Any = getattr(owner, attribute, None) if attribute else owner
        try:
            fd = target.fileno() if target is not None else -1
        except Exception:
            continue
        if isinstance(fd, int) and fd >= 0:
            fds.add(fd)
    return frozenset(fds)


def _wraps(current: object, original: object) -> bool:
    """Whether ``current`` is our wrapper of ``original`` (nobody replaced it since)."""
    return getattr(current, "__wrapped__", None) is original


def _stable_site(site: str | None) -> str:
    """A site without directories, fit for a fingerprint."""
    return (site or "?").rpartition(os.sep)[2]


def loop_key(loop: object) -> str:
    """``loop <id> <class>``, the key of an open event loop."""
    return f"loop {id(loop):x} {type(loop).__qualname__}"


class AsyncioChecker:
    """Finds event loops left open and tasks left pending on them.

    Identity: ``loop <id> <class>`` for each open loop and ``task <id>`` for each
    pending task.
    """

    kind = "asyncio"

    def __init__(self) -> None:
        self._loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
        self._sites: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, str] = (
            weakref.WeakKeyDictionary()
        )
        self._original_init: Any = None
        self._answer = SameAnswer()

    def install(self) -> None:
        """Start tracking loops created from now on; idempotent."""
        asyncio: Any = _loaded_asyncio()
        if self._original_init is not None or asyncio is None:
            return
        original: Any = asyncio.BaseEventLoop.__init__
        self._original_init = original
        track = self._track

        @functools.wraps(original)
        def __init__(loop: asyncio.BaseEventLoop, *args: Any, **kwargs: Any) -> None:
            original(loop, *args, **kwargs)
            track(loop, sys._getframe(1))

        asyncio.BaseEventLoop.__init__ = __init__

    def uninstall(self) -> None:
        """Stop tracking; restores ``BaseEventLoop.__init__`` if ours is still there."""
        original: Any = self._original_init
        self._original_init = None
        asyncio: Any = _loaded_asyncio()
        if original is None or asyncio is None:
            return
        current = asyncio.BaseEventLoop.__dict__.get("__init__")
        if original is not None and _wraps(current, original):
            asyncio.BaseEventLoop.__init__ = original

    def _track(self, loop: asyncio.AbstractEventLoop, frame: Any) -> None:
        try:
            self._loops.add(loop)
            site = caller_site(frame)
            if site is not None:
                self._sites[loop] = site
        except Exception:  # a loop we cannot track must still be created
            pass
        finally:
            del frame

    def _known_loops(self) -> dict[int, asyncio.AbstractEventLoop]:
        loops = {id(loop): loop for loop in list(self._loops)}
        asyncio: Any = _loaded_asyncio()
        if asyncio is None:
            return loops
        for extra in (_policy_loop(asyncio), asyncio.events._get_running_loop()):
            if extra is not None:
                loops.setdefault(id(extra), extra)
        return loops

    def _current(self) -> dict[str, tuple[asyncio.AbstractEventLoop, Any]]:
        """Key -> (loop, task or None) for open loops and pending tasks."""
        found: dict[str, tuple[asyncio.AbstractEventLoop, Any]] = {}
        all_tasks: Any = getattr(_loaded_asyncio(), "all_tasks", None)
        for loop in self._known_loops().values():
            try:
                if not loop.is_closed():
                    found[loop_key(loop)] = (loop, None)
                for task in all_tasks(loop):
                    found[f"task {id(task):x}"] = (loop, task)
            except Exception:
                continue
        return found

    def snapshot(self) -> frozenset[str]:
        """Identities of open loops and of pending tasks on any known loop."""
        if "asyncio" not in sys.modules:
            return NOTHING
        self.install()
        return self._answer(self._current())

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Say which loop is open or which coroutine is pending, and where it began."""
        current = self._current()
        found = []
        try:
            for key in sorted(set(keys) & current.keys()):
                loop, task = current[key]
                if task is None:
                    found.append(self._describe_loop(key, loop))
                else:
                    found.append(self._describe_task(key, loop, task))
        finally:
            del current  # loops and tasks must not outlive the report
        return found

    def _describe_loop(self, key: str, loop: asyncio.AbstractEventLoop) -> Resource:
        site = self._sites.get(loop) or creation_site(loop)
        cls = type(loop).__qualname__
        return Resource(
            kind=self.kind,
            key=key,
            description=f"asyncio event loop <{cls}> not closed",  # the site is told apart
            site=site,
            fingerprint=f"{self.kind}:loop:{cls}:{_stable_site(site)}",
            owned_fds=_loop_fds(loop),
        )

    def _describe_task(
        self, key: str, loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]
    ) -> Resource:
        try:
            name = task.get_name()
            where, stable = _coroutine_location(task)
        except Exception:
            name, where, stable = "?", "(coroutine not inspectable)", "?"
        closed = " on a closed event loop" if loop.is_closed() else ""
        return Resource(
            kind=self.kind,
            key=key,
            description=f"asyncio Task {name!r} pending {where}{closed}",
            site=_task_site(task),
            fingerprint=f"{self.kind}:task:{stable}",
        )
