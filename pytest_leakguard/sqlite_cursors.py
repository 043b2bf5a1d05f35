"""The weak references a sqlite3 connection keeps to its cursors: bounded.

A ``sqlite3.Connection`` appends a weak reference to a list for every cursor
it makes (``execute()`` makes one each time) and drops the dead ones only
every 200 cursors.  A test that queries a connection kept across its runs (a
module fixture's, a pool's) therefore adds a dead weak reference per query
until the connection prunes the list: bounded growth, not a leak, which a
measurement of a few runs takes for one.  Dropping the dead ones before each
sample, as the connection itself would, leaves what really grows.

Only consulted once a test already looks leaky, so the heap walk that finds
the connections is affordable.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable
from typing import Any, Protocol


class _HeapSource(Protocol):
    def all_objects(self) -> list[Any]: ...


def connections_in(heap: _HeapSource) -> list[Any]:
    """The sqlite3 connections alive now.  They cannot be weakly referenced:
    the caller holds them only until the test's check is over."""
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is None:
        return []
    connection_type = sqlite3.Connection
    return [obj for obj in heap.all_objects() if issubclass(type(obj), connection_type)]


def pruner(connections: list[Any]) -> Callable[[], int]:
    """A callable that drops the dead weak references the connections still
    list, as each connection does itself every 200 cursors, and says how many."""

    def prune() -> int:
        dropped = 0
        for conn in connections:
            # Found anew each time: a connection replaces the list when it
            # prunes it.  The cursors' and the blobs' lists are the only
            # lists of weak references a connection holds.
            for held in gc.get_referents(conn):
                if type(held) is list and _only_weak_references(held):
                    alive = [r for r in held if r() is not None]
                    dropped += len(held) - len(alive)
                    held[:] = alive
        return dropped

    return prune


def _only_weak_references(items: list[Any]) -> bool:
    return all(type(item) is weakref.ReferenceType for item in items)


__all__ = ["connections_in", "pruner"]
