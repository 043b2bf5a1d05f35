"""Resources dropped without being closed, known only by their ``ResourceWarning``.

A file, socket, event loop, subprocess or (Python 3.13+) sqlite connection
that is garbage-collected while still open says so with a ``ResourceWarning``
from its finalizer.  By then the object is gone from any snapshot, so this
module works on the warning instead: the runner records warnings with
:func:`capture_resource_warnings` while a test runs and during a
``gc.collect()`` after it, then turns each record into a :class:`Resource`
with :func:`describe_resource_warning`.

The description is parsed from the message text; the creation site comes
from ``message.source`` (the dying object) through ``sites.site_of`` or
tracemalloc, which only knows it if it was tracing when the object was made.
"""

from __future__ import annotations

import _tracemalloc  # is_tracing() without the Python module's imports
import ast
import contextlib
import io
import os
import re
import socket
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from . import sites
from .asyncio_tasks import loop_key
from .base import Resource
from .fds import fd_key
from .sockets import socket_key
from .sys_hooks import creation_site, safe_repr, short_path, type_name

KIND = "unclosed"
_NO_SITE = " (enable tracemalloc for the site)"
_STRING = r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|b'(?:[^'\\]|\\.)*'"""
# Patterns, compiled on first use by ``re``'s own cache: this module is
# imported before the first checked test, and most runs never describe a
# ResourceWarning.
_FILE = (
    rf"unclosed file <(?:_io\.)?(?P<cls>\w+) name=(?P<name>{_STRING}|-?\d+)"
    rf"(?: mode=(?P<mode>{_STRING}))?"
)
_SOCKET = r"(?s)unclosed <(?P<cls>[\w.]+) (?P<fields>.*)>"
_SOCKET_FIELD = rf"(\w+)=(\(.*?\)|{_STRING}|[\w.]+)"
_SUBPROCESS = r"subprocess (?P<pid>\d+) is still running"
_ANGLE = r"unclosed (?P<what>event loop|transport) <(?P<cls>\w+)"
#: tempfile's random names (``tmpk3j_x9ab``), so fingerprints survive runs.
_TMPNAME = r"tmp[a-z0-9_]{8}"
_BINARY_MODES = {
    "BufferedReader": "rb",
    "BufferedWriter": "wb",
    "BufferedRandom": "rb+",
}


def _literal(text: str | None) -> Any:
    try:
        return ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError):
        return text


def _stable_name(path: str) -> str:
    return re.sub(_TMPNAME, "tmp*", os.path.basename(path))


def _scrub(text: str) -> str:
    """Drop what changes between runs: addresses, numbers, directories."""
    text = re.sub(r"0x[0-9a-fA-F]+", "0x?", text)
    text = re.sub(r"(['\"])(?:[^'\"]*/)+([^'\"/]*)\1", r"\1\2\1", text)
    return re.sub(_TMPNAME, "tmp*", re.sub(r"\d+", "N", text))


def _describe_file(match: re.Match[str]) -> tuple[str, str]:
    name = _literal(match["name"])
    mode = _literal(match["mode"]) or _BINARY_MODES.get(match["cls"], "")
    mode_text = f" (mode {mode!r})" if mode else ""
    if isinstance(name, int):
        return f"unclosed file descriptor {name}{mode_text}", f"file:fd:{mode}"
    name = os.fsdecode(name) if isinstance(name, bytes) else str(name)
    return (
        f"unclosed file {short_path(name)!r}{mode_text}",
        f"file:{_stable_name(name)}:{mode}",
    )


def _address(value: Any) -> str:
    if isinstance(value, tuple) and len(value) >= 2:
        host, port = value[0], value[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    if isinstance(value, bytes):
        return repr(value)
    return str(value) if value else "(unnamed)"


def _enum_name(enum: Callable[[int], Any], value: str | None) -> str:
    try:
        return str(enum(int(value or ""))._name_)
    except (TypeError, ValueError):
        return (value or "?").rpartition(".")[2]


def _describe_socket(match: re.Match[str]) -> tuple[str, str]:
    fields = dict(re.findall(_SOCKET_FIELD, match["fields"]))
    family = _enum_name(socket.AddressFamily, fields.get("family"))
    kind = _enum_name(socket.SocketKind, fields.get("type"))
    cls = match["cls"].rpartition(".")[2]
    label = "socket" if cls == "socket" else cls
    local, remote = _literal(fields.get("laddr")), _literal(fields.get("raddr"))
    where = _address(local) if "laddr" in fields else f"{family} (no address)"
    if "raddr" in fields:
        where += f" -> {_address(remote)}"
    extra = "" if kind == "SOCK_STREAM" else f" ({kind})"
    state = (
        "connected" if "raddr" in fields else "bound" if "laddr" in fields else "new"
    )
    return f"unclosed {label} {where}{extra}", f"{label}:{family}:{kind}:{state}"


def _describe_subprocess(match: re.Match[str], source: object) -> tuple[str, str]:
    args = getattr(source, "args", None) if source is not None else None
    if isinstance(args, (str, bytes, os.PathLike)):
        argv0 = os.fsdecode(args).split()[0] if os.fsdecode(args).split() else "?"
        shown = safe_repr(os.fsdecode(args))
    elif isinstance(args, (list, tuple)) and args:
        argv0, shown = os.fsdecode(args[0]), safe_repr(list(args))
    else:
        argv0, shown = "?", "(command unknown)"
    description = f"subprocess {shown} still running (pid {match['pid']})"
    return description, f"subprocess:{_stable_name(argv0)}"


def _describe_text(text: str, source: object) -> tuple[str, str]:
    """(description, fingerprint tail) from a ResourceWarning's text."""
    if match := re.match(_FILE, text):
        return _describe_file(match)
    if match := re.match(_SOCKET, text):
        return _describe_socket(match)
    if match := re.match(_SUBPROCESS, text):
        return _describe_subprocess(match, source)
    if match := re.match(_ANGLE, text):
        what = match["what"]
        return (
            f"unclosed {what} <{match['cls']}>",
            f"{what.replace(' ', '-')}:{match['cls']}",
        )
    if text.startswith("unclosed database"):
        return "unclosed sqlite3 database connection", "sqlite3"
    shown = text if len(text) <= 200 else text[:197] + "..."
    return shown, _scrub(shown)


def _opened_site(source: object) -> str | None:
    """Where a file was opened, from the audit hook's record of its path."""
    name = getattr(source, "name", None) if source is not None else None
    if not isinstance(name, str):
        return None
    try:
        mode = getattr(source, "mode", None)
        return sites.site_for_path(name, mode if isinstance(mode, str) else None)
    except Exception:
        return None


def describe_resource_warning(message: warnings.WarningMessage) -> Resource:
    """Turn one recorded ``ResourceWarning`` into a :class:`Resource`.

    :param message: a record from :func:`capture_resource_warnings` (or any
        ``warnings.catch_warnings(record=True)`` list).
    :returns: kind ``unclosed``; a description such as
        ``unclosed file 'data.txt' (mode 'r')``; the allocation site when known;
        a fingerprint without fds, addresses, ports or temporary paths.
    """
    try:
        text = str(message.message)
    except Exception:
        text = f"<{type_name(message.message)} (str failed)>"
    source = getattr(message, "source", None)
    try:
        description, tail = _describe_text(text, source)
    except Exception:  # a message we misparse must still be reported
        description, tail = text, _scrub(text)
    site = creation_site(source) if source is not None else None
    if site is None:
        site = _opened_site(source)
    if site is None and source is not None and not _tracemalloc.is_tracing():
        description += _NO_SITE
    key = f"{id(source):x} {text}" if source is not None else text
    opened_as = getattr(message, OPENED_AS, None)
    if not isinstance(opened_as, frozenset):
        opened_as = keys_while_open(source)
    return Resource(KIND, key, description, site, f"{KIND}:{tail}", opened_as=opened_as)


#: The attribute of a captured warning that holds :func:`keys_while_open`
#: of its source, read as it warns: its descriptor is closed right after.
OPENED_AS = "leakguard_opened_as"


def keys_while_open(source: object) -> frozenset[str]:
    """What the snapshots called ``source`` while it was open: its
    descriptor's keys (still open while it warns), or its event loop's."""
    keys: list[str | None] = []
    try:
        if isinstance(source, (io.IOBase, socket.socket)):
            fd = source.fileno()
            info = os.fstat(fd)
            identity = (info.st_mode, info.st_dev, info.st_ino)
            keys += [fd_key("fd", fd, identity), fd_key("file", fd, identity)]
            keys.append(socket_key(fd, info.st_ino))
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None and isinstance(source, asyncio.AbstractEventLoop):
            keys.append(loop_key(source))
    except Exception:  # closed, or not what it says: nothing known
        pass
    return frozenset(key for key in keys if key is not None)


#: The last (filters, visible filters) pair: the filters seldom change
#: between two tests, and rebuilding is most of a capture's cost.
_last_visible: tuple[tuple[Any, ...], tuple[Any, ...]] = ((), ())


def _visible_cached(filters: Iterable[Any]) -> list[Any]:
    """:func:`_visible`, remembered for the last filter list (a fresh copy)."""
    global _last_visible
    given = tuple(filters)
    if given != _last_visible[0] or not given:
        _last_visible = (given, tuple(_visible(given)))
    return list(_last_visible[1])


def _visible(filters: Iterable[Any]) -> list[Any]:
    """The filter list with ResourceWarnings forced to ``always`` except errors.

    Before each filter that would *hide or deduplicate* a ResourceWarning
    (``ignore``, ``default``, ``once``, ``module``) an ``always`` copy with the
    same message, module and line is inserted, so whatever reached that filter
    is now shown instead; ``error`` filters keep their place and their effect.
    A final entry replaces the ``default`` action for unmatched ones.
    """
    visible = []
    for entry in filters:
        action, msg, category, module, lineno = entry
        if action not in ("error", "always") and isinstance(category, type):
            if issubclass(category, ResourceWarning):
                visible.append(("always", msg, category, module, lineno))
            elif issubclass(ResourceWarning, category):
                visible.append(("always", msg, ResourceWarning, module, lineno))
        visible.append(entry)
    visible.append(("always", None, ResourceWarning, None, 0))
    return visible


def capture_resource_warnings() -> ResourceWarningCapture:
    """Record ResourceWarnings into the list ``with`` gives; pass all others through.

    ``record=True`` would capture every warning and re-emitting them later
    would move errors and "once" bookkeeping away from the warning's call
    site.  Instead the filters are adjusted (see :func:`_visible`) and
    ``warnings._showwarnmsg_impl`` (the function ``catch_warnings(record=True)``
    itself swaps for ``list.append``) is wrapped: ResourceWarnings land in the
    list, everything else goes to whatever outer capture was there, e.g.
    pytest's.  A ``pytest.warns``/``recwarn`` *inside* the block installs its
    own recorder over ours, so tests that expect a ResourceWarning still get it.
    Enter it inside pytest's own per-test warning capture.  The records hold
    ``source`` (the dying object): describe them promptly, then drop the list.

    An ``error`` filter turns the warning into an exception inside the
    object's finalizer, which Python hands to ``sys.unraisablehook``: that
    hook is wrapped too, and a ResourceWarning that reaches it is recorded
    as well, then passed on (pytest still reports it as before).
    """
    return ResourceWarningCapture()


class ResourceWarningCapture:
    """What ``warnings.catch_warnings()`` saves and restores, and our recorder.

    A class, not a generator: it runs around every checked test, and
    ``catch_warnings`` plus ``contextlib`` cost several times more.
    """

    __slots__ = (
        "caught",
        "elsewhere",
        "_filters",
        "_impl",
        "_showwarning",
        "_unraisablehook",
        "_ours",
    )

    def __init__(self) -> None:
        self.caught: list[warnings.WarningMessage] = []
        #: Raised by a thread that is not the test's (see sites.not_the_tests).
        self.elsewhere: list[warnings.WarningMessage] = []
        #: Our unraisable hook while it is installed (a bound method: dropped
        #: at exit, or it would keep this object in a reference cycle).
        self._ours: Callable[[Any], None] | None = None

    def __enter__(self) -> list[warnings.WarningMessage]:
        self._filters = warnings.filters
        self._impl = warnings._showwarnmsg_impl  # type: ignore[attr-defined]
        self._showwarning = warnings.showwarning
        warnings.filters = _visible_cached(self._filters)
        _filters_mutated()  # forget "already warned" registries for the new filters
        warnings._showwarnmsg_impl = self._show  # type: ignore[attr-defined]
        self._unraisablehook = sys.unraisablehook
        sys.unraisablehook = self._ours = self._unraisable
        return self.caught

    def _show(self, message: warnings.WarningMessage) -> None:
        category = message.category
        if not (isinstance(category, type) and issubclass(category, ResourceWarning)):
            self._impl(message)
        elif sites.not_the_tests(getattr(message, "source", None)):
            self.elsewhere.append(message)
        else:
            _note_keys(message)
            self.caught.append(message)

    def _unraisable(self, unraisable: Any) -> None:
        """A ResourceWarning an ``error`` filter raised in a finalizer."""
        try:
            category = unraisable.exc_type
            if isinstance(category, type) and issubclass(category, ResourceWarning):
                source = unraisable.object
                message = warnings.WarningMessage(
                    unraisable.exc_value, category, "", 0, source=source
                )
                if not sites.not_the_tests(source):  # another thread's: theirs
                    _note_keys(message)
                    self.caught.append(message)
        except Exception:  # never in the way of the hook we pass it to
            pass
        self._unraisablehook(unraisable)

    def __exit__(self, *exc_info: object) -> None:
        warnings.filters = self._filters
        warnings._showwarnmsg_impl = self._impl  # type: ignore[attr-defined]
        warnings.showwarning = self._showwarning
        if sys.unraisablehook is self._ours:  # a test's own hook stays, to be seen
            sys.unraisablehook = self._unraisablehook
        self._ours = None
        _filters_mutated()
        if self.elsewhere:
            self._pass_on_elsewhere()

    def _pass_on_elsewhere(self) -> None:
        """Warn again, under the filters the test runs with, what another
        thread raised: an ordinary warning then, shown (or ignored, as
        Python's default filters do) exactly as without leakguard."""
        elsewhere, self.elsewhere = self.elsewhere, []
        for message in elsewhere:
            # An "error" filter added meanwhile would raise here, in the test's
            # thread: not ours to raise (the other thread would have had it).
            with contextlib.suppress(Exception):
                warnings.warn_explicit(
                    message.message,
                    message.category,
                    message.filename,
                    message.lineno,
                    source=message.source,
                )


def _note_keys(message: warnings.WarningMessage) -> None:
    """Keep :func:`keys_while_open` of the warning's source on it."""
    with contextlib.suppress(Exception):
        setattr(message, OPENED_AS, keys_while_open(message.source))


def _filters_mutated() -> None:
    """Tell the C warnings module its filters changed (private, CPython)."""
    if _MUTATED is not None:
        _MUTATED()


_MUTATED: Callable[[], None] | None = getattr(warnings, "_filters_mutated", None)
