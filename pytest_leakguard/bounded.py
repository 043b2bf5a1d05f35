"""Bounded containers that grow until full: a filling cache is not a leak.

Only consulted once a test already looks leaky, so a heap walk is affordable
here.  Types are checked with ``type()`` and the class dictionaries, never by
attribute access on the object first, so hostile objects (a ``MagicMock``, a
raising ``__getattr__``) cannot fool or break the scan.
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass
from typing import Any, Protocol


class _HeapSource(Protocol):
    def all_objects(self) -> list[Any]: ...


@dataclass(frozen=True, slots=True)
class Filling:
    """A bounded container that grew between two snapshots."""

    label: str
    remaining: int
    growth: int
    size: int
    #: It prunes in batches (back to its capacity once it holds ``threshold``
    #: more): its growth until then looks like a leak in any window of runs.
    batched: bool = False


_LRU_TYPE = type(functools.lru_cache(maxsize=1)(lambda: None))

# id -> (label, size, capacity, a mark that changes when an entry is added
# (see ``_measure``), whether it prunes in batches, the container itself, to
# compare like with like)
Snapshot = dict[int, tuple[str, int, int, object, bool, Any]]


def snapshot(heap: _HeapSource) -> Snapshot:
    """Sizes and capacities of every bounded container alive now.

    Whether a type can be a bounded container is decided once per type, so
    the walk over a large heap costs a dict lookup per object.
    """
    found: Snapshot = {}
    candidate: dict[type, bool] = {}
    for obj in heap.all_objects():
        kind = type(obj)
        is_candidate = candidate.get(kind)
        if is_candidate is None:
            is_candidate = candidate[kind] = _may_be_bounded(kind)
        if not is_candidate:
            continue
        measured = _measure(obj)
        if measured is not None:
            found[id(obj)] = (*measured, obj)
    return found


def growing(before: Snapshot, after: Snapshot) -> list[Filling]:
    """The containers of ``after`` that grew and still have room, or that are
    full and took new entries (turning over: the entries they evict may have
    been made before measuring began, out of view, so evicting them looks
    like growth until the container has turned over once)."""
    result = []
    for key, (label, size, capacity, mark, batched, obj) in after.items():
        old = before.get(key)
        if old is None or old[5] is not obj:
            continue
        if old[1] < size < capacity:
            result.append(Filling(label, capacity - size, size - old[1], size, batched))
        elif size >= capacity and mark is not None and mark != old[3]:
            result.append(Filling(label, 0, 1, size))
    return result


def _measure(obj: Any) -> tuple[str, int, int, object, bool] | None:
    """Label, size, capacity, a mark of new entries and whether it prunes in
    batches (None if unknown): an ``lru_cache``'s misses (each miss stores an
    entry), a deque's last entry."""
    kind = type(obj)
    try:
        if kind is _LRU_TYPE:
            info = obj.cache_info()
            if info.maxsize:
                return (
                    f"lru_cache {_name(obj)} (maxsize={info.maxsize})",
                    info.currsize,
                    info.maxsize,
                    info.misses,
                    False,
                )
        elif issubclass(kind, collections.deque):
            if obj.maxlen is not None:
                last = id(obj[-1]) if len(obj) else None
                return f"deque(maxlen={obj.maxlen})", len(obj), obj.maxlen, last, False
        elif _declares(kind, "maxsize") and _declares(kind, "currsize"):
            # cachetools-style caches: sized in their own units
            maxsize, currsize = obj.maxsize, obj.currsize
            if isinstance(maxsize, int) and isinstance(currsize, int) and maxsize > 0:
                return (
                    f"{kind.__qualname__}(maxsize={maxsize})",
                    currsize,
                    maxsize,
                    None,
                    False,
                )
        elif _declares(kind, "__len__"):
            # Caches with a ``max_size`` (Hypothesis' LRU caches and the like)
            # or a ``capacity`` (SQLAlchemy's LRUCache, which prunes to its
            # capacity once it holds ``threshold`` more), read without running
            # any __getattr__ of the object.
            name, capacity = "max_size", _own_attribute(obj, "max_size")
            if capacity is None:
                name, capacity = "capacity", _own_attribute(obj, "capacity")
            if (
                isinstance(capacity, int)
                and not isinstance(capacity, bool)
                and capacity > 0
            ):
                size = len(obj)
                if isinstance(size, int):
                    label = f"{kind.__qualname__}({name}={capacity})"
                    threshold = _own_attribute(obj, "threshold")
                    batched = (
                        name == "capacity"
                        and isinstance(threshold, float)
                        and 0 < threshold <= 1
                    )
                    if batched:
                        capacity += int(capacity * threshold)
                    return label, size, capacity, None, batched
    except Exception:  # a hostile container is simply not a known cache
        return None
    return None


def _may_be_bounded(kind: type) -> bool:
    try:
        return (
            kind is _LRU_TYPE
            or issubclass(kind, collections.deque)
            or (_declares(kind, "maxsize") and _declares(kind, "currsize"))
            or (kind.__module__ != "builtins" and _declares(kind, "__len__"))
        )
    except Exception:
        return False


def _own_attribute(obj: Any, name: str) -> Any:
    """``obj.name`` from its slots or instance dict only, else None."""
    for klass in type(obj).__mro__:
        descriptor = vars(klass).get(name)
        if descriptor is not None and type(descriptor).__name__ == "member_descriptor":
            return descriptor.__get__(obj, type(obj))
    try:
        return object.__getattribute__(obj, "__dict__").get(name)
    except Exception:
        return None


def _declares(kind: type, name: str) -> bool:
    return any(name in vars(klass) for klass in kind.__mro__)


def _name(wrapper: Any) -> str:
    module = getattr(wrapper, "__module__", "?")
    return f"{module}.{getattr(wrapper, '__qualname__', '?')}"


__all__ = ["Filling", "growing", "snapshot"]
