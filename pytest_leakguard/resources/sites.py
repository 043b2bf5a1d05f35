"""Where sockets, files, threads and processes were created, recorded cheaply.

A report that says *what* is open but not *where* it was opened sends people
hunting.  While a test runs, one audit hook (``sys.addaudithook``) notes the
user's line for each socket and file open; checkers add events of their own
(thread starts, child processes, database connections) with :func:`watch`.
Audit hooks cannot be removed, so it is installed lazily, once per process,
through :mod:`.audit_relay`, disconnected when the last session using it
ends, and only tests a flag while recording is off.  Lazily means when the
first test is checked, not when a session starts: every audit event costs a
call into Python once a hook is in, and collecting raises about twenty per
test (``inspect`` reading ``__code__``, ``id()``), a tenth of what checking
every test's resources costs in all.

Only small things are kept: a :class:`Site` per creation, keyed by a weak
reference or by path, all dropped when recording stops; recording never keeps
a resource alive.  Stop recording only after the checkers' ``describe`` ran.
"""

from __future__ import annotations

import _tracemalloc  # is_tracing() without the Python module's imports
import contextlib
import functools
import linecache
import os
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from importlib.util import find_spec
from types import FrameType
from typing import Any

from . import audit_relay

AuditArgs = tuple[Any, ...]
Watcher = Callable[[AuditArgs], None]

#: Frames climbed from an audit event to find the user's line.
MAX_DEPTH = 64
#: Paths remembered per test, so a test opening thousands of files stays cheap.
MAX_PATHS = 4096
#: Opens that are never a test's resource (the checkers' own /proc reads).
_IGNORED_PREFIXES = ("/proc/", "/sys/")
_USER, _THIRD_PARTY, _SKIP = 0, 1, 2

#: Why sites cannot be recorded in this process, or None.
unavailable_reason: str | None = None

_recording = 0  # nesting depth: the only thing the hook reads when idle
_installed = False
_connected = False  # the relay forwards to _audit (see audit_relay)
_holders = 0  # sessions keeping it connected (pytester nests sessions)
_records: dict[int, _Record] = {}
_test_thread: int | None = None  # the thread that started recording: the test's
_fixture_setups = 0  # broader fixtures being set up (for_a_broader_fixture)
_path_sites: dict[str, Site] = {}
#: The same, per (path, mode) for ``open`` calls that gave a mode.
_path_mode_sites: dict[tuple[str, str], Site] = {}
_handlers: dict[str, list[Watcher]] = {}


class Site:
    """One line of user code that created a resource (a plain class: a
    NamedTuple costs a fifth of a millisecond to define at start-up).

    :param filename: the code object's file name.
    :param lineno: the line being executed.
    :param func: the function's name ('' when unknown, as from tracemalloc).
    """

    __slots__ = ("filename", "lineno", "func")

    def __init__(self, filename: str, lineno: int, func: str = "") -> None:
        self.filename = filename
        self.lineno = lineno
        self.func = func

    def __repr__(self) -> str:
        return f"Site({self.filename!r}, {self.lineno!r}, {self.func!r})"

    @property
    def path(self) -> str:
        """The file relative to the working directory, or a short library path."""
        try:
            return _short_path(self.filename, os.getcwd())
        except OSError:  # the working directory was deleted
            return self.filename

    @property
    def source(self) -> str | None:
        """The stripped source line, read lazily (never inside the hook)."""
        return linecache.getline(self.filename, self.lineno).strip() or None

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}"


class _Record:
    __slots__ = ("ref", "site", "category", "thread", "foreign")

    def __init__(
        self,
        ref: weakref.ref[Any],
        site: Site | None,
        category: str,
        thread: int,  # ident of the thread that created it
        foreign: bool,  # that thread is not the test's (see _is_foreign)
    ) -> None:
        self.ref = ref
        self.site = site
        self.category = category
        self.thread = thread
        self.foreign = foreign


def install() -> bool:
    """Add the audit hook once per process and connect it; return whether
    sites can be recorded."""
    global _installed, unavailable_reason
    if not _installed:
        _installed = True
        _tool_prefixes()  # fill the caches here, not inside the hook
        _stdlib_prefixes()
        try:
            sys.addaudithook(audit_relay.relay)
        except Exception as exc:  # vetoed by another hook
            unavailable_reason = f"cannot add an audit hook: {exc!r}"
    if unavailable_reason is None and not _connected:
        _connect()
    return unavailable_reason is None


def hold() -> None:
    """Count a session that uses the hook, which calls :func:`release` at
    its end; :func:`start_recording` installs it when the first test runs."""
    global _holders
    _holders += 1


def release() -> None:
    """End one :func:`hold`; the last one disconnects the hook."""
    global _holders, _connected
    _holders = max(0, _holders - 1)
    if not _holders:
        audit_relay.disconnect()
        _connected = False


def _connect() -> None:
    """Forward the events to :func:`_audit`.  What was counted before is
    stale (events went uncounted meanwhile), so every count moves on."""
    global _connected, _changes, _spawns, _thread_starts
    _changes += 1
    _spawns += 1
    _thread_starts += 1
    audit_relay.connect(_audit, _wanted_events())
    _connected = True


def _wanted_events() -> frozenset[str]:
    """What :func:`_audit` counts or hands to a watcher; the relay drops the rest."""
    return CHANGE_EVENTS | THREAD_START_EVENTS | frozenset(_handlers)


def start_recording() -> None:
    """Record creation sites from now on; nests with :func:`stop_recording`.

    The calling thread is the test's: what other threads create is told
    apart (see :func:`creator_of`).
    """
    global _recording, _test_thread
    install()
    if not _recording:
        _test_thread = threading.get_ident()
    _recording += 1


def stop_recording() -> None:
    """End one :func:`start_recording`; the outermost forgets every site."""
    global _recording
    _recording = max(0, _recording - 1)
    if not _recording:
        _records.clear()
        _path_sites.clear()
        _path_mode_sites.clear()


def is_recording() -> bool:
    """Whether sites are being recorded now."""
    return _recording > 0


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Record nothing for a while, keeping what was recorded.

    While a test's memory is measured, every site recorded would be growth
    that the measuring itself caused.
    """
    global _recording
    depth, _recording = _recording, 0
    try:
        yield
    finally:
        _recording = depth


@contextlib.contextmanager
def for_a_broader_fixture() -> Iterator[None]:
    """Mark what is created for a while as not the test's: a module- or
    session-scoped fixture's setup, run inside the first test that uses it.
    Its server thread, and all that thread creates later, are the fixture's."""
    global _fixture_setups
    _fixture_setups += 1
    try:
        yield
    finally:
        _fixture_setups -= 1


def watch(event: str, callback: Watcher) -> None:
    """Call ``callback(args)`` for audit ``event`` while recording (idempotent).

    For checkers that track objects of their own (database drivers).  The
    callback must be quick; it may call :func:`current_site`.  Watching does
    not install the hook: :func:`start_recording` does.
    """
    callbacks = _handlers.setdefault(event, [])
    if callback not in callbacks:
        callbacks.append(callback)
    if _connected:
        audit_relay.connect(_audit, _wanted_events())


def record(obj: object, category: str, site: Site | None = None) -> None:
    """Remember ``obj`` weakly with ``site`` (default: the caller's user site)."""
    if not _recording:
        return
    try:
        ref = weakref.ref(obj, functools.partial(_forget, id(obj)))
    except TypeError:  # not weakly referenceable: recording would keep it alive
        return
    thread = threading.get_ident()
    foreign = _fixture_setups > 0 or _is_foreign(thread)
    _records[id(obj)] = _Record(ref, site or current_site(), category, thread, foreign)


def _is_foreign(thread: int) -> bool:
    """Whether the thread ``thread`` is not the test's.

    The test's threads are the one running it and those started, while it
    runs, from one of the test's.  Any other thread was running before the
    test began (a fixture's server, a watcher an earlier test left behind)
    or was started from such a thread, or ``threading`` does not know it: what
    it creates is its owner's, even once it has ended (a watcher thread that
    starts the next child process, and the next watcher, then returns).
    """
    if thread == _test_thread:
        return False
    # threading's running threads by ident (private; read without the lock, as
    # threading.current_thread() does, which would also register a dummy thread)
    known = getattr(threading, "_active", None)
    running = known.get(thread) if isinstance(known, dict) else None
    rec = _records.get(id(running)) if running is not None else None
    return rec is None or rec.ref() is not running or rec.foreign


def not_the_tests(obj: object) -> bool:
    """Whether a ResourceWarning about ``obj``, raised now, belongs to another
    owner than the test being recorded: raised in a thread that is not the
    test's (a session fixture's worker dropping a connection), or about an
    object such a thread created.  False when nothing is being recorded."""
    if not _recording:
        return False
    thread = threading.get_ident()
    if thread != _test_thread and _is_foreign(thread):
        return True
    return obj is not None and creator_of(obj)[1]


def record_path(path: str, site: Site | None = None, mode: str | None = None) -> None:
    """Remember ``site`` (default: the caller's) as where ``path`` is opened.

    ``open`` events are recorded already; this is for libraries that open
    files in C without that event, such as SQLite.

    :param mode: the mode it was opened with, when known: a file read back
        after it was opened for writing is told by the mode it was left in.
    """
    if not _recording or len(_path_sites) >= MAX_PATHS:
        return
    if path.startswith(_IGNORED_PREFIXES) or path.endswith(".pyc"):
        return
    site = site or current_site()
    if site is not None:
        absolute = _absolute(path)
        _path_sites[absolute] = site
        if mode is not None:
            _path_mode_sites[absolute, mode] = site


def recorded(category: str) -> list[object]:
    """The live objects recorded under ``category``; drop the list soon."""
    # copy() is one C call, so a weakref callback cannot resize it under us
    refs = [rec.ref for rec in _records.copy().values() if rec.category == category]
    return [obj for obj in (ref() for ref in refs) if obj is not None]


def site_record_of(obj: object) -> Site | None:
    """The recorded :class:`Site` of ``obj``, else tracemalloc's, else None."""
    rec = _records.get(id(obj))
    if rec is not None and rec.ref() is obj:
        return rec.site
    if _tracemalloc.is_tracing():
        import tracemalloc  # its Python half only when a site is wanted

        with contextlib.suppress(Exception):
            return find_user_site(tracemalloc.get_object_traceback(obj))
    return None


def site_of(obj: object) -> str | None:
    """``path.py:31`` where ``obj`` was created, when known."""
    return _text(site_record_of(obj))


def site_for_path(path: str, mode: str | None = None) -> str | None:
    """``path.py:31`` where ``path`` was last opened while recording (with
    ``mode``, when that is known and was recorded)."""
    absolute = _absolute(path)
    site = _path_mode_sites.get((absolute, mode)) if mode else None
    site = site or _path_sites.get(absolute)
    if site is None:  # opened through a symbolic link?
        real = os.path.realpath(path)
        matches = (
            s for p, s in _path_sites.copy().items() if os.path.realpath(p) == real
        )
        site = next(matches, None)
    return _text(site)


def site_for_fd(fd: int) -> str | None:
    """``path.py:31`` of the recorded socket (or other object) using ``fd``."""
    rec = _record_for_fd(fd)
    return _text(rec.site) if rec is not None else None


#: (ident of the thread that created an object, whether that thread is not the
#: test's: see _is_foreign); (None, False) when its creation was not recorded.
Creator = tuple[int | None, bool]
_UNRECORDED: Creator = (None, False)


def creator_of(obj: object) -> Creator:
    """The :data:`Creator` of ``obj``: what a fixture's server thread, or a
    thread that is not the test's, creates is not the test's leak."""
    rec = _records.get(id(obj))
    if rec is None or rec.ref() is not obj:
        return _UNRECORDED
    return rec.thread, rec.foreign


def creator_for_fd(fd: int) -> Creator:
    """:func:`creator_of` the recorded object using ``fd``."""
    rec = _record_for_fd(fd)
    return _UNRECORDED if rec is None else (rec.thread, rec.foreign)


def _record_for_fd(fd: int) -> _Record | None:
    for rec in _records.copy().values():
        with contextlib.suppress(Exception):
            if rec.ref().fileno() == fd:  # type: ignore[union-attr]
                return rec
    return None


def current_site() -> Site | None:
    """The innermost user frame calling this, as a :class:`Site`."""
    return find_user_site(sys._getframe(1))


def find_user_site(frames: FrameType | Iterable[Any] | None) -> Site | None:
    """Pick the innermost frame of the user's code.

    Skips the standard library, pytest, pluggy and pytest-leakguard; a frame in
    site-packages is used only when no frame of the project itself is found.

    :param frames: a frame (its callers are walked), or a sequence ordered
        oldest first with ``filename``/``lineno`` attributes, as
        ``tracemalloc.Traceback`` and ``traceback.StackSummary`` are.
    """
    if frames is None:
        return None
    if isinstance(frames, FrameType):
        candidates: Iterable[tuple[str, int, str]] = _walk(frames)
    else:
        candidates = (
            (f.filename, f.lineno or 0, getattr(f, "name", "") or "")
            for f in reversed(list(frames))
        )
    fallback = None
    for filename, lineno, func in candidates:
        category = _file_category(filename)
        if category == _USER:
            return Site(filename, lineno, func)
        if category == _THIRD_PARTY and fallback is None:
            fallback = Site(filename, lineno, func)
    return fallback


def user_frame_site(frames: FrameType | Iterable[Any] | None) -> str | None:
    """:func:`find_user_site` as a ``path.py:31`` string."""
    return _text(find_user_site(frames))


def _text(site: Site | None) -> str | None:
    return None if site is None else str(site)


#: Audit events that start a child process (counted on their own: the
#: process checker reads /proc only after one of these).
SPAWN_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
    }
)
#: Audit events that open a descriptor or start a child process.  Counted
#: at all times (an int increment), so that a snapshot may reuse its last
#: reading of /proc when the descriptor numbers are the same and none of
#: these happened since.
CHANGE_EVENTS = (
    frozenset({"open", "socket.__new__", "mmap.__new__", "sqlite3.connect"})
    | SPAWN_EVENTS
)
#: Audit events of ``Thread.start`` (Python 3.12+; earlier, :mod:`.threads`
#: wraps the start function and calls :func:`note_thread_start`).
THREAD_START_EVENTS = frozenset(
    {"_thread.start_new_thread", "_thread.start_joinable_thread"}
)
#: SQLite databases that live in memory: connecting opens no descriptor.
_IN_MEMORY = (":memory:", b":memory:")
_changes = 0
_spawns = 0
_thread_starts = 0


def changes() -> int:
    """How many :data:`CHANGE_EVENTS` happened since the hook was installed
    (-1 when no hook counts them)."""
    return _changes if _connected else -1


def spawns() -> int:
    """How many :data:`SPAWN_EVENTS` happened since the hook was installed
    (-1 when no hook counts them)."""
    return _spawns if _connected else -1


def activity() -> int:
    """How many :data:`CHANGE_EVENTS` and thread starts happened so far (-1
    when no hook counts them): equal readings mean that no descriptor was
    opened, no process spawned and no thread started in between."""
    count = changes()
    return count + _thread_starts if count >= 0 else -1


def note_spawn() -> None:
    """Count a child started without an audit event (multiprocessing's spawn
    and forkserver start methods call ``_posixsubprocess.fork_exec`` directly)."""
    global _changes, _spawns
    _changes += 1
    _spawns += 1


def note_thread_start() -> None:
    """Count a thread start that raises no audit event (before Python 3.12)."""
    global _thread_starts
    _thread_starts += 1


def _opens_nothing(event: str, args: AuditArgs) -> bool:
    """Reads of /proc and /sys (the checkers' own), an in-memory database."""
    if event == "open":
        return isinstance(args[0], str) and args[0].startswith(_IGNORED_PREFIXES)
    if event == "sqlite3.connect":
        return bool(args) and args[0] in _IN_MEMORY
    return False


def _audit(event: str, args: AuditArgs) -> None:
    if event in CHANGE_EVENTS and not _opens_nothing(event, args):
        global _changes, _spawns
        _changes += 1
        if event in SPAWN_EVENTS:
            _spawns += 1
    elif event in THREAD_START_EVENTS:
        note_thread_start()
    if not _recording:
        return
    for handler in _handlers.get(event, ()):
        # an exception here would make the user's open() or connect() fail
        with contextlib.suppress(Exception):
            handler(args)


def _forget(key: int, ref: weakref.ref[Any]) -> None:
    rec = _records.get(key)
    if rec is not None and rec.ref is ref:
        _records.pop(key, None)


def _walk(frame: FrameType | None) -> Iterable[tuple[str, int, str]]:
    for _ in range(MAX_DEPTH):
        if frame is None:
            return
        code = frame.f_code
        yield code.co_filename, frame.f_lineno or 0, code.co_name
        frame = frame.f_back


def _absolute(path: str) -> str:
    return os.path.normpath(os.path.join(os.getcwd(), path))


def _on_open(args: AuditArgs) -> None:
    if not isinstance(args[0], int):  # open(fd) wraps what is already open
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else None
        record_path(os.fsdecode(args[0]), mode=mode)


def _on_socket(args: AuditArgs) -> None:
    record(args[0], "socket")


@functools.lru_cache(maxsize=4096)
def _file_category(filename: str) -> int:
    if filename.startswith("<") or filename.startswith(_tool_prefixes()):
        return _SKIP  # <frozen ...>, <string> (dataclass/namedtuple code), tools
    if "/site-packages/" in filename or "/dist-packages/" in filename:
        return _THIRD_PARTY
    if filename.startswith(_stdlib_prefixes()):
        return _SKIP
    return _USER


@functools.cache
def _tool_prefixes() -> tuple[str, ...]:
    dirs = {os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    for name in ("_pytest", "pytest", "pluggy"):
        with contextlib.suppress(ValueError):  # a module without __spec__
            spec = find_spec(name)
            if spec is not None and spec.origin:
                dirs.add(os.path.dirname(spec.origin))
    return _prefixes(dirs)


@functools.cache
def _stdlib_prefixes() -> tuple[str, ...]:
    """The stdlib's directories, without importing ``sysconfig`` (milliseconds).

    ``os`` lies in the pure-Python stdlib; the compiled modules lie in
    ``lib-dynload`` below the platform stdlib, which is the same directory
    on most layouts and its parent is named here in any case.
    """
    dirs = {os.path.dirname(os.__file__)}
    compiled = getattr(
        sys.modules.get("_socket") or sys.modules.get("select"), "__file__", None
    )
    if isinstance(compiled, str):
        dirs.add(os.path.dirname(os.path.dirname(compiled)))
    return _prefixes(dirs)


def _prefixes(dirs: Iterable[str]) -> tuple[str, ...]:
    """Directories as prefixes with a trailing slash, also with links resolved."""
    return tuple({os.path.join(p, "") for d in dirs for p in (d, os.path.realpath(d))})


@functools.lru_cache(maxsize=1024)
def _short_path(filename: str, cwd: str) -> str:
    if filename.startswith(os.path.join(cwd, "")):
        return os.path.relpath(filename, cwd)
    for marker in ("/site-packages/", "/dist-packages/"):
        index = filename.rfind(marker)
        if index >= 0:
            return filename[index + len(marker) :]
    prefix = next((p for p in _stdlib_prefixes() if filename.startswith(p)), "")
    return filename[len(prefix) :]


_handlers.update(
    {
        "open": [_on_open],
        "socket.__new__": [_on_socket],
    }
)
