"""Memory probes: traced bytes and live objects by type, per measured run.

The cost of a sample follows what the test allocates, not the size of the
heap, thanks to two standard-library features:

* ``gc.freeze()`` before the measured runs moves every existing object into
  the permanent generation, so ``gc.get_objects()`` and ``gc.collect()`` only
  see objects created since -- the test's objects;
* tracemalloc starts tracing at the same moment, so its counters and snapshots
  hold only the test's allocations.

The probe keeps its own measurements in plain lists of ints and in str->int
dicts, which the GC does not track, and subtracts the bytes it allocates
itself, so the measuring code does not measure itself.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from .verdict import Sample

# Objects of the plugin's own types are never the test's growth.
_OWN_MODULE_PREFIX = __name__.rpartition(".")[0]
# More passes than one catch objects freed by finalizers of the first pass
# (and PyPy needs several, as pytest's own comment says).
_MAX_GC_PASSES = 3


def collect_garbage() -> None:
    """Collect until nothing more is freed (at most a few passes)."""
    for _ in range(_MAX_GC_PASSES):
        if not gc.collect():
            break


class MemoryProbe:
    """Samples one test's measured runs; ``begin`` and ``end`` bracket them."""

    def __init__(self) -> None:
        self._traced_bytes: list[int] = []
        self._objects: list[int] = []
        self._by_type: list[dict[str, int]] = []
        self._own_bytes = 0
        self._started_tracing = False
        self._froze = False
        self.notes: list[str] = []

    def begin(self) -> None:
        """Freeze the heap and start tracing; the caller samples the baseline.

        The baseline should follow one more run: a run replaces the objects
        the previous run left (reports, fixture requests), and only the first
        replacement after the freeze shows up as new.
        """
        import objgraph  # noqa: F401 - imported before the freeze, or it would count as new

        if tracemalloc.is_tracing():
            self.notes.append(
                "tracemalloc was already tracing; its frame limit is kept"
            )
        else:
            tracemalloc.start(1)
            self._started_tracing = True
        collect_garbage()
        if gc.get_freeze_count() == 0:
            gc.freeze()
            self._froze = True
        else:
            # Someone else froze objects (the test or the app): unfreezing them
            # at the end would change their program, so count the whole heap.
            self.notes.append("gc.freeze() was in use: counted the whole heap (slower)")

    def refreeze(self) -> None:
        """Move what exists now out of view, so later samples see only new objects."""
        collect_garbage()
        if self._froze:
            gc.freeze()

    def sample(self, collect: bool = True) -> None:
        """Record traced bytes and live objects after a run.

        Whatever this method allocates and keeps is counted as the probe's own
        and subtracted from later samples.  The int that holds the first
        reading is created *after* the reading, so it is freed before the
        second one: otherwise every sample would look 32 bytes smaller.
        """
        if collect:
            collect_garbage()
        tracing = tracemalloc.is_tracing()
        own_before = self._own_bytes
        self._traced_bytes.append(
            (tracemalloc.get_traced_memory()[0] if tracing else 0) - own_before
        )
        objects = gc.get_objects()
        by_type = _count_by_type(objects)
        self._objects.append(sum(by_type.values()))
        del objects
        self._by_type.append(by_type)
        del by_type
        # Counting leaves a little cyclic garbage: free it here, or the next
        # sample would see it freed and call that the test's shrinkage.
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] if tracing else 0
        self._own_bytes = own_before + after - (self._traced_bytes[-1] + own_before)

    def samples(self) -> list[Sample]:
        """Samples so far, the baseline first."""
        return [
            Sample(traced_bytes=b, objects=o, by_type=t)
            for b, o, t in zip(self._traced_bytes, self._objects, self._by_type, strict=True)
        ]

    def restart(self) -> None:
        """Forget the samples so far and take a new baseline (after a cache filled).

        Nothing is refrozen and no trace is cleared: objects a full cache
        evicts must still count as freed.
        """
        for series in (self._traced_bytes, self._objects, self._by_type):
            series.clear()
        self._own_bytes = 0
        self.sample()

    def end(self) -> None:
        """Undo ``begin``: unfreeze and stop the tracing we started."""
        if self._froze:
            gc.unfreeze()
            self._froze = False
        if self._started_tracing and tracemalloc.is_tracing():
            tracemalloc.stop()
            self._started_tracing = False

    def all_objects(self) -> list[Any]:
        """The whole heap, frozen part included (only to explain a leak)."""
        if not self._froze:
            return gc.get_objects()
        gc.unfreeze()
        try:
            return gc.get_objects()
        finally:
            gc.freeze()

    def trace_deeper(self, frames: int) -> None:
        """Restart our tracing with more frames, for allocation sites."""
        if self._started_tracing:
            tracemalloc.stop()
            tracemalloc.start(frames)

    @property
    def owns_tracing(self) -> bool:
        return self._started_tracing


def _count_by_type(objects: list[Any]) -> dict[str, int]:
    """Live objects per qualified type name, the plugin's own left out.

    objgraph's ``typestats`` does the naming; it is handed only the objects
    created since the freeze, so its cost follows the test.
    """
    import objgraph  # imported only when a test is measured

    stats: dict[str, int] = objgraph.typestats(objects=objects, shortnames=False)
    for name in [n for n in stats if n.startswith(_OWN_MODULE_PREFIX)]:
        del stats[name]
    return {_short(name): count for name, count in stats.items()}


def type_name(obj: object) -> str:
    """The name ``_count_by_type`` gives the type of ``obj`` (never raises)."""
    kind = type(obj)
    module = getattr(kind, "__module__", None)
    name = kind.__name__
    return _short(f"{module}.{name}") if module else name


def _short(name: str) -> str:
    return name[len("builtins.") :] if name.startswith("builtins.") else name
