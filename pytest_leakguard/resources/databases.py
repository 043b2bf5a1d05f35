"""Database connections left open; sqlite3 built in, other drivers pluggable.

An unclosed connection holds locks, a server-side session or (for SQLite)
the database file, and the next test finds the database busy.  Connections
are seen as they are made, through audit events (``sqlite3.connect/handle``)
while :mod:`.sites` records, and tracked weakly: the snapshot asks each
tracked connection whether it is still open, which costs nothing when a test
opened none.

Other drivers plug in with a :class:`Driver`: an audit event that hands over
new connections, or calls to :meth:`DatabaseChecker.track` from a wrapper,
plus an ``is_open`` test.  A connection type that cannot be weakly referenced
needs a ``close_token``: an object the connection alone holds and releases
when it closes (sqlite3's statement cache, see :func:`_sqlite_close_token`).
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from . import sites
from .base import NOTHING, Resource, SameAnswer
from .fds import fds_open_on
from .files import normalize_path
from .lazy_globals import framework_connections


class Driver:
    """How to see one driver's connections and tell whether they are open
    (a plain class: a NamedTuple costs a fifth of a millisecond to define at start-up).

    :param name: shown in reports and keys (``sqlite3``).
    :param is_open: whether a connection is still open; must not raise.
    :param connect_event: audit event whose first argument is a new connection.
    :param target_event: audit event raised just before ``connect_event`` whose
        first argument names the database (path or DSN).
    :param close_token: for connections without weak reference support: an
        object held only by the connection and released when it closes.
    """

    __slots__ = ("name", "is_open", "connect_event", "target_event", "close_token")

    def __init__(
        self,
        name: str,
        is_open: Callable[[Any], bool],
        connect_event: str | None = None,
        target_event: str | None = None,
        close_token: Callable[[Any], object | None] | None = None,
    ) -> None:
        self.name = name
        self.is_open = is_open
        self.connect_event = connect_event
        self.target_event = target_event
        self.close_token = close_token

    def __repr__(self) -> str:
        return f"Driver({self.name!r}, connect_event={self.connect_event!r})"


class _Entry:
    __slots__ = ("driver", "is_open", "target", "site", "held", "kept")

    def __init__(
        self,
        driver: Driver,
        is_open: Callable[[], bool],  # holds a weak reference only
        target: str,
        site: object | None,  # a sites.Site or a str, turned into text when described
        held: weakref.ref[Any],  # to the connection, or to its close token
    ) -> None:
        self.driver = driver
        self.is_open = is_open
        self.target = target
        self.site = site
        self.held = held
        #: Whether a framework keeps it for the process (framework_connections);
        #: None until asked, once, by the first snapshot that sees it.
        self.kept: bool | None = None

    def is_one_of(self, connections: list[object]) -> bool:
        """Whether this entry tracks one of ``connections``."""
        held, token = self.held(), self.driver.close_token
        return held is not None and any(
            held is conn or (token is not None and held is token(conn))
            for conn in connections
        )


class _Registry:
    """Tracked connections of every driver, shared by all checkers."""

    def __init__(self) -> None:
        self.drivers: dict[str, Driver] = {}
        self.entries: dict[int, _Entry] = {}
        self.untrackable: set[str] = set()
        self._serials = itertools.count(1)
        self._targets: dict[int, str] = {}  # thread ident -> target_event's name

    def add(self, driver: Driver) -> None:
        if driver.name in self.drivers:
            return
        self.drivers[driver.name] = driver
        if driver.target_event:
            sites.watch(driver.target_event, self._on_target)
        if driver.connect_event:
            sites.watch(
                driver.connect_event, functools.partial(self._on_connect, driver)
            )

    def _on_target(self, args: tuple[Any, ...]) -> None:
        target = _target_name(args[0])
        self._targets[threading.get_ident()] = target
        if target.startswith("/"):
            sites.record_path(target)  # SQLite opens the file in C, unaudited

    def _on_connect(self, driver: Driver, args: tuple[Any, ...]) -> None:
        target = self._targets.pop(threading.get_ident(), "")
        self.track(args[0], driver, target, _caller_site())

    def track(
        self, conn: object, driver: Driver, target: str, site: object | None
    ) -> None:
        serial = next(self._serials)
        forget = functools.partial(self._forget, serial)
        try:
            ref = weakref.ref(conn, forget)
        except TypeError:
            token_ref = self._token_ref(conn, driver, forget)
            if token_ref is None:
                self.untrackable.add(driver.name)
                return
            ref = token_ref
            is_open: Callable[[], bool] = functools.partial(_alive, token_ref)
        else:
            is_open = functools.partial(_still_open, ref, driver.is_open)
        self.entries[serial] = _Entry(driver, is_open, target, site, ref)

    @staticmethod
    def _token_ref(
        conn: object, driver: Driver, forget: Callable[[Any], None]
    ) -> weakref.ref[Any] | None:
        token = driver.close_token(conn) if driver.close_token else None
        if token is None:
            return None
        try:
            return weakref.ref(token, forget)
        except TypeError:
            return None

    def _forget(self, serial: int, _ref: object) -> None:
        self.entries.pop(serial, None)


def _caller_site() -> sites.Site | None:
    """Where the connection is made; formatted only if it is ever described."""
    return sites.current_site()


def _alive(ref: weakref.ref[Any]) -> bool:
    return ref() is not None


def _still_open(ref: weakref.ref[Any], is_open: Callable[[Any], bool]) -> bool:
    conn = ref()
    return conn is not None and is_open(conn)


def _target_name(database: object) -> str:
    try:
        name = os.fsdecode(database)  # type: ignore[arg-type]
    except TypeError:
        return repr(database)
    if name == ":memory:" or name.startswith("file:") or not name:
        return name or ":memory:"  # sqlite: "" is a private temporary database
    return os.path.abspath(name)


def _sqlite_is_open(conn: Any) -> bool:
    try:
        conn.total_changes  # noqa: B018 - raises ProgrammingError once closed
    except Exception:
        return False
    return True


def _sqlite_close_token(conn: object) -> object | None:
    """The connection's statement cache (an ``lru_cache`` wrapper).

    ``sqlite3.Connection`` cannot be weakly referenced (through 3.13 at least),
    but it owns that cache alone and ``close()`` (or deallocation) drops it, so
    a weak reference to the cache dies exactly when the connection closes.
    Python 3.10's connection keeps its statements in a C ``sqlite3.Cache``
    and owns nothing that can be weakly referenced: there, connections are
    not tracked (the checker says so once), and an on-disk database left open
    is still reported by the file checker.
    """
    caches = (
        r for r in gc.get_referents(conn) if type(r).__name__.endswith("_cache_wrapper")
    )
    token: object | None = next(caches, None)
    return token


@functools.cache
def sqlite_trackable() -> bool:
    """Whether this Python's sqlite3 connections can be tracked (3.11+)."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    try:
        return _sqlite_close_token(conn) is not None
    finally:
        conn.close()


SQLITE3 = Driver(
    name="sqlite3",
    is_open=_sqlite_is_open,
    connect_event="sqlite3.connect/handle",
    target_event="sqlite3.connect",
    close_token=_sqlite_close_token,
)

_REGISTRY = _Registry()


class DatabaseChecker:
    """Finds database connections a test opened and did not close.

    :param drivers: the drivers to watch; sqlite3 by default.
    """

    kind = "db-connection"

    def __init__(self, drivers: Iterable[Driver] = (SQLITE3,)) -> None:
        self.drivers = {driver.name: driver for driver in drivers}
        for driver in self.drivers.values():
            _REGISTRY.add(driver)
        self._answer = SameAnswer()

    @property
    def unavailable_reason(self) -> str | None:
        """Why connections of some driver cannot be tracked, or None.

        The audit hook is added when the first test runs; if that fails,
        the session notes it at its end (asking here must not add it).
        """
        if sites.unavailable_reason:
            return sites.unavailable_reason
        blind = sorted(_REGISTRY.untrackable & self.drivers.keys())
        if blind:
            return f"cannot track {', '.join(blind)} connections on this Python"
        return None

    def track(self, conn: object, driver: str, target: str = "") -> None:
        """Track a connection made by a driver without an audit event."""
        _REGISTRY.add(self.drivers[driver])
        site = sites.site_of(conn) or _caller_site()
        _REGISTRY.track(conn, self.drivers[driver], target, site)

    def snapshot(self) -> frozenset[str]:
        """``db-connection:<driver>:<serial>`` for every tracked open connection,
        less those a framework keeps for the process (framework_connections)."""
        if not _REGISTRY.entries:
            return NOTHING
        entries = _REGISTRY.entries.copy()
        unasked = [entry for entry in entries.values() if entry.kept is None]
        if unasked:  # new since the last snapshot: asked once
            kept = framework_connections()
            for entry in unasked:
                entry.kept = entry.is_one_of(kept)
        return self._answer(
            [
                f"{self.kind}:{entry.driver.name}:{serial}"
                for serial, entry in entries.items()
                if not entry.kept
                and entry.driver.name in self.drivers
                and entry.is_open()
            ]
        )

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe the connections of ``keys`` that are still open."""
        found = []
        for key in sorted(keys):
            try:
                serial = int(key.rsplit(":", 1)[1])
            except (IndexError, ValueError):
                continue
            entry = _REGISTRY.entries.get(serial)
            if entry is None or entry.kept or not entry.is_open():
                continue
            target = entry.target or "an unknown database"
            generic = normalize_path(target) if target.startswith("/") else target
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=f"{entry.driver.name} connection to {target}",
                    site=None if entry.site is None else str(entry.site),
                    fingerprint=f"{self.kind} {entry.driver.name} {generic}",
                    owned_fds=fds_open_on(target)
                    if target.startswith("/")
                    else frozenset(),
                )
            )
        return found
