"""Memory probes: traced bytes and live objects by type, per measured run.

The cost of a sample follows what the test allocates, not the size of the
heap, thanks to two standard-library features:

* ``gc.freeze()`` before the measured runs moves every existing object into
  the permanent generation, so ``gc.get_objects()`` and ``gc.collect()`` only
  see objects created since -- the test's objects;
* tracemalloc starts tracing at the same moment, so its counters and snapshots
  hold only the test's allocations.

Tracing is the costly part, so by default the measured runs are first
*screened* with the cheap counters of ``counters.py``; only a test whose
counters grew is measured again with tracemalloc on (``start_tracing``).

The probe keeps its own measurements in plain lists of ints and in str->int
dicts, which the GC does not track, and subtracts the bytes it allocates
itself, so the measuring code does not measure itself (the screen stores its
readings in preallocated arrays: nothing of its own to subtract).
"""

from __future__ import annotations

import contextlib
import gc
import sys
import tracemalloc
from collections import _count_elements  # type: ignore[attr-defined]
from collections.abc import Iterator
from typing import Any

from . import FROZEN_AT_START
from .counters import HeapCounters, ScreenReadings
from .verdict import Sample

# Objects of the plugin's own types are never the test's growth.
_OWN_MODULE_PREFIX = __name__.rpartition(".")[0]
# More passes than one catch objects freed by finalizers of the first pass
# (and PyPy needs several, as pytest's own comment says).
_MAX_GC_PASSES = 3


@contextlib.contextmanager
def automatic_gc_paused() -> Iterator[None]:
    """No automatic collection while leakguard walks a large heap.

    The walks allocate many short-lived containers; each would trigger
    collections that traverse every object the test leaked, again and again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def collect_garbage() -> None:
    """Collect until nothing more is freed (at most a few passes)."""
    for _ in range(_MAX_GC_PASSES):
        if not gc.collect():
            break


class MemoryProbe:
    """Samples one test's measured runs; ``begin`` and ``end`` bracket them."""

    def __init__(
        self,
        screen: bool = True,
        screen_runs: int = 0,
        ignore_types: frozenset[str] = frozenset(),
    ) -> None:
        """:param screen: watch the first ``screen_runs`` measured runs (and
        the baseline) with cheap counters instead of tracing them.
        :param ignore_types: left out of the screen's object counts.
        """
        self._traced_bytes: list[int] = []
        self._objects: list[int] = []
        self._by_type: list[dict[str, int]] = []
        self._interned: list[int] = []
        self._own_bytes = 0
        self._counters = HeapCounters()
        self._screen: ScreenReadings | None = (
            ScreenReadings(screen_runs + 1)
            if screen and screen_runs and self._counters.available
            else None
        )
        self._ignore_types = ignore_types
        self._traced_phase = False
        self._started_tracing = False
        self._froze = False
        self.notes: list[str] = []

    @property
    def screening(self) -> bool:
        """True while the runs are watched by counters only (no tracing)."""
        return self._screen is not None and not self._traced_phase

    @property
    def heap_frozen(self) -> bool:
        """Whether :meth:`begin` froze the heap: then a collection frees only
        what the test's runs made since, and no earlier test's garbage."""
        return self._froze

    @property
    def screened(self) -> ScreenReadings | None:
        """The screen's readings, once it is over (or None: no screen)."""
        return self._screen

    def begin(self) -> None:
        """Freeze the heap (and trace, unless screening); the caller samples the baseline.

        The baseline should follow one more run: a run replaces the objects
        the previous run left (reports, fixture requests), and only the first
        replacement after the freeze shows up as new.
        """
        if tracemalloc.is_tracing():
            self.notes.append(
                "tracemalloc was already tracing; its frame limit is kept"
            )
            self._screen = None
            self._traced_phase = True
        elif self._screen is None:
            self.start_tracing()
        # The counting code's first call creates objects once: before the freeze.
        _count_by_type([self, self.notes, {}])
        # The youngest garbage (the first run's) is collected before the
        # freeze.  Not generation 1: what the first run built for a broader
        # fixture sits there (a million objects, once), and walking it would
        # cost what the freeze saves; the previous test's garbage was
        # collected when its resource check ended (``check_item``).  When
        # resources are checked, the first run's garbage in older generations
        # was collected before this, in the test's capture (``run_repeated``):
        # frozen here and unfrozen into the oldest generation by ``end``, it
        # would warn in a later test.
        gc.collect(0)
        if gc.get_freeze_count() in (0, FROZEN_AT_START):
            # (unfreezing at the end also lets the interpreter's own start-up
            # leftovers go to the oldest generation, as any gc.unfreeze() does)
            gc.freeze()
            self._froze = True
        else:
            # Someone else froze objects (the test or the app): unfreezing them
            # at the end would change their program, so count the whole heap.
            self.notes.append("gc.freeze() was in use: counted the whole heap (slower)")

    def start_tracing(self) -> None:
        """Trace from now on (the screen saw growth); samples so far are dropped.

        The next run replaces blocks allocated before tracing began; the
        caller takes a new baseline after it.
        """
        self._clear()
        self._traced_phase = True
        if not tracemalloc.is_tracing():
            tracemalloc.start(1)
            self._started_tracing = True

    def refreeze(self) -> None:
        """Move what exists now out of view, so later samples see only new objects."""
        collect_garbage()
        if self._froze:
            gc.freeze()

    def sample(self, collect: bool = True) -> None:
        """Record traced bytes and live objects after a run (or the screen's counters).

        Whatever this method allocates and keeps is counted as the probe's own
        and subtracted from later samples.  The int that holds the first
        reading is created *after* the reading, so it is freed before the
        second one: otherwise every sample would look 32 bytes smaller.
        """
        if collect:
            collect_garbage()
        if self.screening:
            assert self._screen is not None
            self._screen.record(self._counters, self._count_screened())
            return
        tracing = tracemalloc.is_tracing()
        self._traced_bytes.append(
            (tracemalloc.get_traced_memory()[0] if tracing else 0) - self._own_bytes
        )
        with automatic_gc_paused():
            objects = gc.get_objects()
            by_type = _count_by_type(objects)
        self._objects.append(sum(by_type.values()))
        del objects
        self._by_type.append(by_type)
        del by_type
        self._interned.append(_interned_strings())
        # Counting leaves a little cyclic garbage: free it here, or the next
        # sample would see it freed and call that the test's shrinkage.
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] if tracing else 0
        self._own_bytes = after - self._traced_bytes[-1]

    def _count_screened(self) -> int:
        """Live new objects, the ignored types left out; nothing is kept."""
        with automatic_gc_paused():
            by_type = _count_by_type(gc.get_objects())
        total = sum(by_type.values())
        for name in self._ignore_types:
            total -= by_type.get(name, 0)
        del by_type
        gc.collect()  # the counting's own cyclic garbage, as in ``sample``
        return total

    def samples(self) -> list[Sample]:
        """Samples so far, the baseline first."""
        return [
            Sample(traced_bytes=b, objects=o, by_type=t, interned=i)
            for b, o, t, i in zip(
                self._traced_bytes,
                self._objects,
                self._by_type,
                self._interned,
                strict=True,
            )
        ]

    def restart(self) -> None:
        """Forget the samples so far and take a new baseline (after a cache filled).

        Nothing is refrozen and no trace is cleared: objects a full cache
        evicts must still count as freed.
        """
        self._clear()
        self.sample()

    def _clear(self) -> None:
        for series in (
            self._traced_bytes,
            self._objects,
            self._by_type,
            self._interned,
        ):
            series.clear()
        self._own_bytes = 0

    def end(self) -> None:
        """Undo ``begin``: unfreeze and stop the tracing we started."""
        if self._froze:
            gc.unfreeze()
            self._froze = False
        self.stop_tracing()

    def all_objects(self) -> list[Any]:
        """The whole heap, frozen part included (only to explain a leak)."""
        if not self._froze:
            return gc.get_objects()
        gc.unfreeze()
        try:
            return gc.get_objects()
        finally:
            gc.freeze()

    def trace_deeper(self, frames: int) -> bool:
        """Restart our tracing with more frames (and no traces); False if not ours."""
        if not self._started_tracing:
            return False
        tracemalloc.stop()
        tracemalloc.start(frames)
        return True

    def stop_tracing(self) -> None:
        """Stop the tracing we started (measuring is over)."""
        if self._started_tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
        self._started_tracing = False

    @property
    def owns_tracing(self) -> bool:
        return self._started_tracing


def _interned_strings() -> int:
    """How many strings are interned (3.12+, where they are immortal); else 0."""
    count = getattr(sys, "getunicodeinternedsize", None)
    return int(count()) if count is not None else 0


def _count_by_type(objects: list[Any]) -> dict[str, int]:
    """Live objects per qualified type name, the plugin's own left out.

    Counting is one C-level pass (``collections``' element counter); only the
    distinct types are named, in objgraph's ``module.name`` convention.  It
    is handed only the objects created since the freeze: its cost follows the
    test.
    """
    per_type: dict[type, int] = {}
    # Counter's own constructor would ask isinstance(..., Mapping), and ABC
    # caches fill with weak references: objects of ours, counted as new.
    _count_elements(per_type, map(type, objects))
    by_type: dict[str, int] = {}
    for kind, count in per_type.items():
        name = _name_of_type(kind)
        if not name.startswith(_OWN_MODULE_PREFIX):
            by_type[name] = by_type.get(name, 0) + count
    return by_type


def _name_of_type(kind: type) -> str:
    try:
        module = kind.__module__
        name = kind.__name__
    except Exception:  # a hostile metaclass
        return "?"
    return _short(f"{module}.{name}") if isinstance(module, str) else str(name)


def type_name(obj: object) -> str:
    """The name ``_count_by_type`` gives the type of ``obj`` (never raises)."""
    return _name_of_type(type(obj))


def _short(name: str) -> str:
    return name[len("builtins.") :] if name.startswith("builtins.") else name
