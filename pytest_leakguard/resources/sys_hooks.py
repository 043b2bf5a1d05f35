"""Interpreter hooks a test replaced and did not put back.

A test that calls ``sys.settrace(None)`` silently switches coverage off for the
rest of the run; one that installs its own ``sys.excepthook`` changes what every
later crash looks like.  Keys carry ``id()`` of each hook, so a hook that was
swapped and restored before teardown is not reported.

pytest 9 replaces ``sys.unraisablehook``, ``threading.excepthook`` and
``sys.breakpointhook`` in ``pytest_configure`` for the whole session, so they
are the same objects before setup and after teardown and never show up.

This module also holds the small, defensive formatting helpers the other
listener checkers share (callable names, definition and creation sites).
"""

from __future__ import annotations

import _tracemalloc  # is_tracing() without the Python module's imports
import functools
import operator
import os
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType

from .base import Resource

#: Frames from these places are never "where the test created it".
_LIBRARY_PARTS = tuple(
    f"{os.sep}{name}{os.sep}"
    for name in ("_pytest", "pytest", "pluggy", "pytest_leakguard")
)


@functools.cache
def _install_dirs() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(stdlib, site-packages) directory prefixes; ``sysconfig`` costs
    milliseconds to import, so only when a site is first described."""
    import sysconfig

    def prefixes(*names: str) -> tuple[str, ...]:
        return tuple(
            {os.path.join(p, "") for n in names if (p := sysconfig.get_path(n))}
        )

    return prefixes("stdlib", "platstdlib"), prefixes("purelib", "platlib")


def is_library_file(filename: str) -> bool:
    """Whether ``filename`` is stdlib, pytest, pluggy or leakguard code."""
    if filename.startswith("<frozen") or any(p in filename for p in _LIBRARY_PARTS):
        return True
    stdlib, site_packages = _install_dirs()
    return filename.startswith(stdlib) and not filename.startswith(site_packages)


def short_path(filename: str) -> str:
    """``filename`` relative to the current directory when it lies below it."""
    try:
        cwd = os.path.join(os.getcwd(), "")
    except OSError:  # the test may have removed its own cwd
        return filename
    return filename[len(cwd) :] if filename.startswith(cwd) else filename


def format_site(filename: str, lineno: int, name: str | None = None) -> str:
    """``path.py:31 in func`` (or ``path.py:31`` when the function is unknown)."""
    where = f"{short_path(filename)}:{lineno}"
    return f"{where} in {name}" if name else where


def type_name(obj: object, qualified: bool = False) -> str:
    """The name of ``obj``'s class, even if a metaclass hides its attributes."""
    cls = type(obj)
    try:
        name = str(type.__getattribute__(cls, "__qualname__"))
        if qualified:
            name = f"{type.__getattribute__(cls, '__module__')}.{name}"
    except Exception:
        return "object"
    return name


def safe_repr(obj: object, limit: int = 80) -> str:
    """``repr`` that neither raises nor floods a report."""
    try:
        text = repr(obj)
    except Exception:
        text = f"<{type_name(obj)} object (repr failed)>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def callable_name(obj: object) -> str:
    """``module.qualname`` of a hook, guarded against hostile attributes."""
    try:
        if obj is None:
            return "None"
        if isinstance(obj, functools.partial):
            return f"functools.partial({callable_name(obj.func)})"
        target = getattr(obj, "__func__", obj)  # bound methods
        qualname = getattr(target, "__qualname__", None) or getattr(
            target, "__name__", None
        )
        if not isinstance(qualname, str):
            return f"{type_name(obj, qualified=True)} instance"
        module = getattr(target, "__module__", None)
        return f"{module}.{qualname}" if isinstance(module, str) else qualname
    except Exception:
        return f"<{type_name(obj)}>"


def definition_site(obj: object) -> str | None:
    """``file:line in name`` of the code behind a callable, if it has any."""
    try:
        for _ in range(5):  # partial(partial(bound method)) ... bounded, never loops
            if isinstance(obj, functools.partial):
                obj = obj.func
            elif (inner := getattr(obj, "__func__", None)) is not None:
                obj = inner
            else:
                break
        code = getattr(obj, "__code__", None)
        if code is None and callable(obj) and not isinstance(obj, type):
            obj = type(obj).__call__  # callable instances
            code = getattr(obj, "__code__", None)
        if code is None:
            return None
        # Code objects carry their qualified name from 3.11 (co_qualname);
        # on 3.10 the function's own __qualname__ says the same.
        name = getattr(code, "co_qualname", None) or getattr(obj, "__qualname__", None)
        return format_site(code.co_filename, code.co_firstlineno, name or code.co_name)
    except Exception:
        return None


def caller_site(frame: FrameType | None) -> str | None:
    """The innermost non-library frame from ``frame`` outwards."""
    first = frame
    while frame is not None:
        code = frame.f_code
        if not is_library_file(code.co_filename):
            return format_site(code.co_filename, frame.f_lineno, code.co_name)
        frame = frame.f_back
    if first is None:
        return None
    return format_site(first.f_code.co_filename, first.f_lineno, first.f_code.co_name)


def creation_site(obj: object) -> str | None:
    """Where ``obj`` was created: ``sites.site_of`` if present, else tracemalloc."""
    try:
        from .sites import site_of  # written in parallel; optional
    except (ImportError, AttributeError):
        pass
    else:
        try:
            site = site_of(obj)
        except Exception:
            site = None
        if site:
            return str(site)
    return allocation_site(obj)


def allocation_site(obj: object) -> str | None:
    """Innermost non-library frame of ``obj``'s tracemalloc allocation traceback.

    CPython 3.11 cannot trace instances with a managed ``__dict__``
    (``get_object_traceback`` returns ``None`` for them), so fall back to a
    container or lock the object made in its ``__init__``.
    """
    if not _tracemalloc.is_tracing():
        return None
    import tracemalloc

    try:
        candidates = [obj, *_fresh_attributes(obj)]
        for candidate in candidates:
            traceback = tracemalloc.get_object_traceback(candidate)
            if traceback is not None:
                frames = [(f.filename, f.lineno) for f in reversed(traceback)]
                for filename, lineno in frames:
                    if not is_library_file(filename):
                        return format_site(filename, lineno)
                if len(frames) >= tracemalloc.get_traceback_limit():
                    # Cut short (one frame, when leakguard traces for its
                    # own counts): the library frame says nothing of who
                    # created it, and must not pass for pytest's own doing.
                    return None
                return format_site(*frames[0])
    except Exception:
        pass
    return None


_FRESH_TYPES = ("deque", "dict", "set", "lock", "RLock", "WeakSet", "Condition")


def _fresh_attributes(obj: object) -> list[object]:
    try:
        values = object.__getattribute__(obj, "__dict__").values()
    except Exception:
        return []
    return [v for v in values if type(v).__name__ in _FRESH_TYPES][:3]


def _hook_getters() -> tuple[tuple[str, Callable[[], object]], ...]:
    getters: list[tuple[str, Callable[[], object]]] = [
        ("sys.settrace", sys.gettrace),
        ("sys.setprofile", sys.getprofile),
    ]
    for name in ("excepthook", "unraisablehook", "displayhook", "breakpointhook"):
        getters.append((f"sys.{name}", functools.partial(getattr, sys, name, None)))
    getters.append(("threading.excepthook", lambda: threading.excepthook))
    for name in ("trace", "profile"):  # threading.gettrace/getprofile: Python 3.10+
        getter = getattr(threading, f"get{name}", None)
        if getter is not None:
            getters.append((f"threading.set{name}", getter))
    return tuple(getters)


def _hooks_now() -> tuple[object, ...]:
    """Every hook of :func:`_hook_getters`, read in one go (the cheap check)."""
    return (
        sys.gettrace(),
        sys.getprofile(),
        getattr(sys, "excepthook", None),
        getattr(sys, "unraisablehook", None),
        getattr(sys, "displayhook", None),
        getattr(sys, "breakpointhook", None),
        threading.excepthook,
        threading.gettrace(),
        threading.getprofile(),
    )


class SysHookChecker:
    """Finds trace/profile functions and ``sys``/``threading`` hooks left replaced.

    Identity: hook name plus ``id()`` of the installed object (plus the names of
    ``sys.monitoring`` tool ids in use on Python 3.12+).
    """

    kind = "sys-hook"

    def __init__(self) -> None:
        self._getters = _hook_getters()
        self._monitoring = getattr(sys, "monitoring", None)
        #: The hooks and monitoring tool names of the last snapshot.  Held, not
        #: their ids: a held object's address cannot be reused by a new hook,
        #: and ``id()`` raises an audit event per call.  It keeps at most the
        #: hooks installed at the last snapshot alive until the next one.
        self._last_hooks: tuple[object, ...] | None = None
        self._last_tools: tuple[object, ...] = ()
        self._last_keys: frozenset[str] = frozenset()

    def _tools_now(self) -> tuple[object, ...]:
        if self._monitoring is None:
            return ()
        return tuple(map(self._monitoring.get_tool, range(6)))

    def _current(self) -> dict[str, tuple[str, object]]:
        found: dict[str, tuple[str, object]] = {}
        for label, getter in self._getters:
            try:
                hook = getter()
            except Exception:
                continue
            key = f"{label}=None" if hook is None else f"{label}={id(hook):x}"
            found[key] = (label, hook)
        if self._monitoring is not None:
            for tool_id in range(6):
                name = self._monitoring.get_tool(tool_id)
                if name is not None:
                    label = f"sys.monitoring tool id {tool_id}"
                    found[f"{label}={name}"] = (label, name)
        return found

    def snapshot(self) -> frozenset[str]:
        """Hook name and object identity for every hook listed above.

        Keys are rebuilt only when some hook is another object than at the
        last snapshot, or the ``sys.monitoring`` tools in use changed.
        """
        try:
            hooks = _hooks_now()
            tools = () if self._monitoring is None else self._tools_now()
        except Exception:
            return frozenset(self._current())
        last = self._last_hooks
        if (
            last is None
            or tools != self._last_tools
            or not all(map(operator.is_, hooks, last))
        ):
            self._last_keys = frozenset(self._current())
        self._last_hooks, self._last_tools = hooks, tools
        return self._last_keys

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Name the hooks still installed under ``keys`` and where they are defined."""
        current = self._current()
        found = []
        for key in sorted(set(keys) & current.keys()):
            label, hook = current[key]
            if label.startswith("sys.monitoring"):
                description = f"{label} left in use by {hook!r}"
                found.append(
                    Resource(self.kind, key, description, None, f"{self.kind}:{key}")
                )
                continue
            name = callable_name(hook)
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=f"{label} left set to {name}",
                    site=definition_site(hook),
                    fingerprint=f"{self.kind}:{label}:{name}",
                )
            )
        return found
