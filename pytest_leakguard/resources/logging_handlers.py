"""Logging handlers a test added to a logger and never removed.

A handler left on a logger keeps its stream or file open, writes every later
test's log records, and usually keeps the test's objects alive through its
formatter or filters.  ``logging.basicConfig`` in a test and
``logger.addHandler`` in a fixture without ``removeHandler`` are the usual ways.

The snapshot walks the root logger and ``logging.Logger.manager.loggerDict``.
Most loggers have no handlers, so the walk is one ``handlers`` attribute check
per logger, with no locking and no formatting, and stays in the tens of
microseconds even with thousands of loggers.
"""

from __future__ import annotations

import contextlib
import logging
import operator
import os
import sys
import weakref
from collections.abc import Iterable, Iterator

from .base import Resource, SameAnswer
from .sys_hooks import creation_site, safe_repr, type_name

#: pytest adds and removes its capture handlers around every phase
#: (LogCaptureHandler, _LiveLoggingNullHandler, _FileHandler ...), and the
#: plugin's own handlers are its own business.
IGNORED_MODULE_PREFIXES = ("_pytest.", "pytest_leakguard")


#: pytest's and leakguard's handler classes met so far: they live as long
#: as the process anyway, and pytest's sit on the root logger all session.
_IGNORED_TYPES: set[type] = set()


#: A logger's handlers, read in C (to skip the loggers without any).
_HANDLERS = operator.attrgetter("handlers")


def _class_label(handler: logging.Handler) -> str | None:
    """The qualified class name ``handler`` is known by; None if it is
    pytest's or leakguard's own."""
    cls = type(handler)
    try:
        if cls in _IGNORED_TYPES:
            return None
    except Exception:  # a metaclass whose __hash__ raises
        pass
    qualified = type_name(handler, qualified=True)
    if qualified.startswith(IGNORED_MODULE_PREFIXES):
        with contextlib.suppress(Exception):
            _IGNORED_TYPES.add(cls)
        return None
    return qualified


def _keyed_handlers(
    index: _LoggerIndex,
) -> Iterator[tuple[str, str, logging.Handler]]:
    """``(key, logger name, handler)`` for every handler not pytest's or
    leakguard's.

    A handler is known by its class and its logger, counted: the second
    ``StreamHandler`` on one logger is ``... #2 ...``.  Not by ``id()``: a
    library that *replaces* its logger's handler on every start
    (hypercorn's ``logger.handlers = [StreamHandler(sys.stderr)]``) leaves
    one handler however often it starts, and a swap must not read as one
    handler gone and a new one left.  A handler added on every call still
    raises the count, which is the leak.
    """
    counts: dict[tuple[str, str], int] = {}
    for name, handler in _handlers_by_logger(index):
        label = _class_label(handler)
        if label is None:
            continue
        count = counts[name, label] = counts.get((name, label), 0) + 1
        yield f"{label} #{count} on {name}", name, handler


class _LoggerIndex:
    """The real loggers in ``loggerDict``, re-listed only when it may have changed.

    Re-listing thousands of entries on every snapshot would cost hundreds of
    microseconds, mostly for skipping ``PlaceHolder`` entries.  The list is
    rebuilt when the dict is replaced or changes size, or when a placeholder is
    replaced by a real logger (``getLogger`` on a parent name): placeholders are
    watched through weak references whose callback marks the index stale, so
    that check costs nothing per snapshot.  Loggers live in ``loggerDict`` for
    the whole process anyway; holding them here keeps nothing else alive.
    """

    def __init__(self) -> None:
        self._dict: object = None
        self._size = -1
        self._stale = True
        self._loggers: tuple[logging.Logger, ...] = ()
        self._watched: list[weakref.ref[logging.PlaceHolder]] = []

    def _mark_stale(self, _ref: object) -> None:
        self._stale = True

    def loggers(self) -> tuple[logging.Logger, ...]:
        entries = logging.Logger.manager.loggerDict
        if self._stale or entries is not self._dict or len(entries) != self._size:
            self._rebuild(entries)
        return self._loggers

    def _rebuild(
        self, entries: dict[str, logging.Logger | logging.PlaceHolder]
    ) -> None:
        values = list(entries.values())  # one C call: safe against other threads
        self._dict, self._size, self._stale = entries, len(values), False
        self._loggers = tuple(v for v in values if isinstance(v, logging.Logger))
        self._watched = [
            weakref.ref(v, self._mark_stale)
            for v in values
            if isinstance(v, logging.PlaceHolder)
        ]


def _handlers_by_logger(index: _LoggerIndex) -> Iterator[tuple[str, logging.Handler]]:
    """``(logger name, handler)`` for every handler on every real logger,
    less the library idiom (see :func:`_without_library_idiom`)."""
    for handler in logging.root.handlers:
        yield "root", handler
    for logger in filter(_HANDLERS, index.loggers()):
        name = logger.name
        for handler in _without_library_idiom(name, logger.handlers):
            yield name, handler


def _without_library_idiom(
    name: str, handlers: list[logging.Handler]
) -> list[logging.Handler]:
    """``handlers`` less the first plain ``NullHandler`` when the logger is
    named after an imported module.

    A library adds one ``NullHandler`` to ``logging.getLogger(__name__)``
    when it is imported, as the logging documentation advises, so that its
    records go nowhere unless the application configures logging: one-time
    set-up, whichever test imports the library first.  A second one on that
    logger is reported, and so is a subclass (it may hold a stream) or one on
    a logger that no module is named after.
    """
    if name not in sys.modules or logging.NullHandler not in map(type, handlers):
        return handlers
    for index, handler in enumerate(handlers):
        if type(handler) is logging.NullHandler:
            return [*handlers[:index], *handlers[index + 1 :]]
    return handlers  # the list changed meanwhile (another thread)


def _target(handler: logging.Handler) -> tuple[str, str]:
    """What the handler writes to, for display and for the fingerprint."""
    try:
        filename = getattr(handler, "baseFilename", None)
        if isinstance(filename, str):
            return repr(_relative(filename)), os.path.basename(filename)
        stream = getattr(handler, "stream", None)
        if stream is not None:
            name = getattr(stream, "name", None)
            if isinstance(name, str) and not name.startswith("<"):
                return repr(_relative(name)), os.path.basename(name)
            if isinstance(name, str) and " " not in name:  # <stderr>, <stdout>
                return name, name
            # a capture stream (pytest's) names itself with a long repr
            return f"<{type_name(stream)}>", type_name(stream)
    except Exception:
        pass
    return "", ""


def _relative(path: str) -> str:
    try:
        relative = os.path.relpath(path)
    except ValueError:  # other drive on Windows
        return path
    return path if relative.startswith("..") else relative


def _logger_label(name: str) -> str:
    return "the root logger" if name == "root" else f"logger {safe_repr(name)}"


class LoggingHandlerChecker:
    """Finds handlers added to any logger (root included) and left attached.

    Identity: the handler's class and logger, counted (see
    :func:`_keyed_handlers`), so the same handler on two loggers counts twice,
    as it writes twice, and a handler swapped for one of its class is none.
    """

    kind = "logging-handler"

    def __init__(self) -> None:
        self._index = _LoggerIndex()
        self._answer = SameAnswer()

    def snapshot(self) -> frozenset[str]:
        """``class #n on logger`` for every handler not owned by pytest or leakguard."""
        return self._answer([key for key, _, _ in _keyed_handlers(self._index)])

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Which handler is on which logger, what it writes to, where it was made."""
        wanted = set(keys)
        found = [
            self._describe_one(key, name, handler)
            for key, name, handler in _keyed_handlers(self._index)
            if key in wanted
        ]
        return sorted(found, key=lambda resource: resource.description)

    def _describe_one(self, key: str, name: str, handler: logging.Handler) -> Resource:
        qualified = type_name(handler, qualified=True)
        shown, stable = _target(handler)
        label = f"{type_name(handler)}({shown})"
        return Resource(
            kind=self.kind,
            key=key,
            description=f"logging handler {label} on {_logger_label(name)}",
            site=creation_site(handler),
            fingerprint=f"{self.kind}:{qualified}:{name}:{stable}",
        )
