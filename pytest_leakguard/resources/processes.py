"""Child processes a test started and never waited for.

A child left running keeps ports, files and CPU busy after its test, and one
that exited without ``wait()`` stays a zombie until the parent reaps it.  Both
are listed by the kernel as children of this process: the snapshot reads
``/proc/self/task/<tid>/children`` (one small read per Python thread) and the
start time of each child, so a recycled pid counts as a new process.  Kernels
built without ``CONFIG_PROC_CHILDREN`` fall back to scanning ``/proc``.

Subprocess ``Popen`` objects and ``multiprocessing`` processes (pool workers
included) are children alike.  Their start sites come from the
``subprocess.Popen`` and ``os.fork`` audit events, which :mod:`.sites` passes
on while it records; processes forked or spawned otherwise have no site.
``multiprocessing``'s spawn and forkserver start methods raise no audit event
at all: while installed, the checker wraps ``_posixsubprocess.fork_exec``,
which they call, to count those spawns (the snapshot skips reading /proc while
no spawn was counted).  ``multiprocessing``'s resource tracker and fork server
are process-wide, started once: never reported (see :mod:`.lazy_globals`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shlex
import sys
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any

from . import sites
from .base import NOTHING, Resource, SameAnswer
from .lazy_globals import multiprocessing_helpers

PROC = "/proc"
_STATES = {
    "R": "running", "S": "sleeping", "D": "in uninterruptible sleep",
    "T": "stopped", "t": "stopped by a tracer", "Z": "zombie", "X": "dead",
    "I": "idle",
}  # fmt: skip
_DIGITS = r"\d+"  # compiled on first use (re caches it)
MAX_COMMAND = 160


def _read(path: str) -> bytes | None:
    # os.open/os.read: ~3x cheaper than open() for these tiny /proc files
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return None
    finally:
        os.close(fd)


def _stat(pid: int) -> tuple[str, str, int, str] | None:
    """(comm, state, ppid, starttime) of ``pid`` from /proc/<pid>/stat."""
    data = _read(f"{PROC}/{pid}/stat")
    if not data:
        return None
    text = data.decode("utf-8", "replace")
    # comm is in parentheses and may itself contain spaces or ')'
    head, _, tail = text.rpartition(")")
    fields = tail.split()
    if len(fields) < 20:
        return None
    return head.partition("(")[2], fields[0], int(fields[1]), fields[19]


class ProcessChecker:
    """Finds child processes, running or zombie, a test did not wait for.

    :ivar unavailable_reason: why nothing can be found here, or None.
    """

    kind = "process"

    def __init__(self) -> None:
        sites.watch("subprocess.Popen", _on_child)
        sites.watch("os.fork", _on_child)
        self.unavailable_reason: str | None = None
        self._per_task = os.path.exists(f"{PROC}/self/task/{os.getpid()}/children")
        if not os.path.isdir(f"{PROC}/self/task"):
            self.unavailable_reason = "cannot list child processes (no /proc)"
        self._none_since: int | None = None  # spawn count when last seen childless
        self._answer = SameAnswer()
        self._wrapped_fork_exec: Any = None  # our wrapper, while installed

    def install(self) -> None:
        """Count the spawns that raise no audit event (see the module's docstring)."""
        if self._wrapped_fork_exec is None:
            self._wrapped_fork_exec = _wrap_fork_exec()

    def uninstall(self) -> None:
        """Put ``_posixsubprocess.fork_exec`` back if our wrapper is still there."""
        wrapper, self._wrapped_fork_exec = self._wrapped_fork_exec, None
        module = sys.modules.get("_posixsubprocess")
        if wrapper is not None and getattr(module, "fork_exec", None) is wrapper:
            module.fork_exec = wrapper.__wrapped__  # type: ignore[union-attr]

    def snapshot(self) -> frozenset[str]:
        """``process:<pid>:<start time>`` for every child of this process.

        No children last time and no spawn since (the audit hook counts
        Popen, fork and posix_spawn): still none, without reading /proc.
        """
        if self.unavailable_reason:
            return NOTHING
        changes = sites.spawns()
        if changes >= 0 and changes == self._none_since:
            return NOTHING
        keys = []
        for pid in self._children():
            stat = _stat(pid)
            if stat is not None:
                keys.append(f"process:{pid}:{stat[3]}")
        self._none_since = None if keys else changes
        return self._answer(keys)

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe the children of ``keys`` that still exist (not
        ``multiprocessing``'s process-wide helpers)."""
        found = []
        helpers, _ = multiprocessing_helpers()
        for key in sorted(keys):
            try:
                _, pid_text, start = key.split(":")
                pid = int(pid_text)
            except ValueError:
                continue
            if pid in helpers:
                continue
            stat = _stat(pid)
            if stat is None or stat[3] != start or stat[2] != os.getpid():
                continue
            found.append(self._resource(key, pid, stat[0], stat[1]))
        return found

    def _resource(self, key: str, pid: int, comm: str, state: str) -> Resource:
        owner = _recorded_owner(pid)
        # a zombie has no command line left: fall back to what Popen was given
        argv = _cmdline(pid) or _popen_args(owner)
        name = getattr(owner, "name", None)  # multiprocessing processes have one
        if isinstance(name, str):
            what = f"multiprocessing process '{name}'"
            generic = f"process multiprocessing '{re.sub(_DIGITS, 'N', name)}'"
        else:
            what = f"process {shlex.join(argv)[:MAX_COMMAND] if argv else comm}"
            generic = f"process {os.path.basename(argv[0]) if argv else comm}"
        thread, foreign = sites.creator_of(owner)  # unrecorded for None
        if state == "Z":
            description = f"zombie {what} (pid {pid}) exited but was never waited for"
        else:
            description = f"child {what} (pid {pid}, {_STATES.get(state, state)})"
        return Resource(
            kind=self.kind,
            key=key,
            description=description,
            site=sites.site_of(owner) if owner is not None else None,
            fingerprint=generic,
            thread=thread,
            foreign=foreign,
        )

    def _children(self) -> list[int]:
        if self._per_task:
            # Python's threads are enough: a fork from a thread made in C is
            # rare, and listing /proc/self/task would double the cost
            tids = {os.getpid()} | {t.native_id for t in threading.enumerate()}
            pids: list[int] = []
            for tid in tids:
                data = _read(f"{PROC}/self/task/{tid}/children")
                if data:
                    pids.extend(int(pid) for pid in data.split())
            return pids
        return _scan_children()


def _scan_children() -> list[int]:
    """Every process whose parent is this one: slow, for kernels without
    ``/proc/<pid>/task/<tid>/children``."""
    me = os.getpid()
    pids = []
    try:
        names = os.listdir(PROC)
    except OSError:
        return []
    for name in names:
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[2] == me:
                pids.append(int(name))
    return pids


def _cmdline(pid: int) -> list[str]:
    data = _read(f"{PROC}/{pid}/cmdline") or b""
    return [arg.decode("utf-8", "replace") for arg in data.split(b"\0") if arg]


def _recorded_owner(pid: int) -> object | None:
    """The recorded Popen or multiprocessing Process of ``pid``, if any."""
    for obj in sites.recorded("process"):
        if getattr(obj, "pid", None) == pid:
            return obj
    return None


def _popen_args(owner: object) -> list[str]:
    args = getattr(owner, "args", None)  # Popen.args: a string or a sequence
    if isinstance(args, (str, bytes, os.PathLike)):
        return [os.fsdecode(args)]
    try:
        return [os.fsdecode(arg) for arg in args or ()]
    except TypeError:
        return []


def _wrap_fork_exec() -> Any:
    """Wrap ``_posixsubprocess.fork_exec`` to count each call as a spawn,
    unless someone (another session's checker) wrapped it already; return the
    wrapper, or None.  ``subprocess`` holds its own reference (and is audited)."""
    try:
        import _posixsubprocess
    except ImportError:  # not POSIX
        return None
    real = getattr(_posixsubprocess, "fork_exec", None)
    if real is None or hasattr(real, "__wrapped__"):
        return None

    @functools.wraps(real)
    def fork_exec(*args: Any, **kwargs: Any) -> Any:
        sites.note_spawn()
        if sites.is_recording():
            with contextlib.suppress(Exception):  # never fail the user's spawn
                _on_child(args)  # the multiprocessing Process being started, if any
        return real(*args, **kwargs)

    _posixsubprocess.fork_exec = fork_exec
    return fork_exec


def _on_child(args: tuple[Any, ...]) -> None:
    # Popen._execute_child audits "subprocess.Popen"; multiprocessing's fork
    # start method calls os.fork() below Process.start: record that object
    names = (("subprocess", "Popen"), ("multiprocessing.process", "BaseProcess"))
    types = tuple(getattr(sys.modules[m], n) for m, n in names if m in sys.modules)
    frame: FrameType | None = sys._getframe(1)
    for _ in range(12):  # Process.start is 5 frames above os.fork()
        if frame is None:
            return
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, types):
            sites.record(candidate, "process")
            return
        frame = frame.f_back
