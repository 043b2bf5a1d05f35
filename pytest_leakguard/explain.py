"""Explaining a leak: what grew, where it was allocated, who holds it.

Runs only for a test already judged leaky, so it may walk the heap.  It runs
the test a few more times with deeper tracebacks, then looks at what those
runs left alive.  Everything it returns is formatted text and numbers: no
object of the test outlives this module's functions.
"""

from __future__ import annotations

import gc
import linecache
import os
import sysconfig
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .caches import clear_interpreter_caches
from .probes import MemoryProbe, collect_garbage, type_name
from .redact import safe_repr
from .refpath import find_path
from .runner import ItemDriver, run_until
from .verdict import MemoryDecision

EXPLAIN_RUNS = 2
TRACEBACK_FRAMES = 16
TOP_SITES = 5
TOP_TYPES = 5
SAMPLES = 3
# pympler's deep size is slow: size this many objects per type and scale.
SIZED_PER_TYPE = 200

_SKIPPED_DIRS = tuple(
    os.path.dirname(__import__(name).__file__ or "") + os.sep
    for name in ("pytest_leakguard", "_pytest", "pluggy")
)
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep


def explain_leak(driver: ItemDriver, probe: MemoryProbe, decision: MemoryDecision) -> dict[str, Any]:
    """Sites, types with retained sizes, a reference path and sample reprs.

    One run first (its leftovers are the baseline), then ``EXPLAIN_RUNS``
    runs whose growth is compared with that baseline.
    """
    notes: list[str] = []
    probe.trace_deeper(TRACEBACK_FRAMES)
    _, first = run_until(driver, 1, _settle)
    probe.refreeze()
    before = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    _, done = run_until(driver, EXPLAIN_RUNS, _settle) if first else (None, 0)
    if done < EXPLAIN_RUNS:
        notes.append(f"the test failed while being explained (run {done + 1}); explanation is partial")
    runs = max(done, 1)
    sites = _sites(before, runs, _plugin_files(driver), notes)
    del before
    grown = [name for name, _ in decision.growing_types[:TOP_TYPES]]
    types, sample = _types(grown, runs, notes)
    path = None
    if sample is not None:
        path = find_path(sample, lambda: _unfrozen(probe))
        if path is None:
            notes.append(f"no path from a module, class or frame to a leaked {type_name(sample)} was found")
    elif not grown:
        notes.append("what grew is not tracked by the GC (str, int, bytes ...): see the allocation sites")
    del sample
    return {"sites": sites, "types": types, "path": path, "notes": notes}


def _plugin_files(driver: ItemDriver) -> frozenset[str]:
    """Source files of the pytest plugins in use (conftests are the user's code)."""
    files = set()
    for plugin in driver.item.config.pluginmanager.get_plugins():
        filename = getattr(plugin, "__file__", None)
        if isinstance(filename, str) and not filename.endswith("conftest.py"):
            files.add(filename)
    return frozenset(files)


def _settle() -> None:
    clear_interpreter_caches()
    collect_garbage()


@contextmanager
def _unfrozen(probe: MemoryProbe) -> Iterator[None]:
    gc.unfreeze()
    try:
        yield
    finally:
        gc.freeze()


def _sites(
    before: tracemalloc.Snapshot | None, runs: int, plugin_files: frozenset[str], notes: list[str]
) -> list[dict[str, Any]]:
    if before is None or not tracemalloc.is_tracing():
        notes.append("tracemalloc was not tracing: no allocation sites")
        return []
    snapshot = tracemalloc.take_snapshot()
    stats = [(s.traceback, s.size_diff, s.count_diff) for s in snapshot.compare_to(before, "traceback")]
    del snapshot, before
    totals: dict[tuple[str, int], list[int]] = {}
    for traceback, size, count in stats:
        if size <= 0:
            continue
        site = _user_frame(traceback, plugin_files)
        if site is None:
            continue
        entry = totals.setdefault(site, [0, 0])
        entry[0] += size
        entry[1] += count
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])[:TOP_SITES]
    return [
        {
            "file": _relative(filename),
            "line": lineno,
            "source": linecache.getline(filename, lineno).strip(),
            "bytes_per_run": size // runs,
            "blocks_per_run": count // runs,
        }
        for (filename, lineno), (size, count) in ranked
        if size // runs > 0
    ]


def _user_frame(traceback: tracemalloc.Traceback, plugin_files: frozenset[str]) -> tuple[str, int] | None:
    """The innermost frame in the test or the code under test.

    Frames of this plugin, pytest, pluggy and other pytest plugins never
    count; stdlib and generated (``<string>``) frames count only when
    nothing else is on the stack.
    """
    fallback = None
    for frame in reversed(list(traceback)):  # oldest first -> innermost first
        filename = frame.filename
        if filename.startswith(_SKIPPED_DIRS) or filename in plugin_files:
            continue
        if filename.startswith(_STDLIB) or filename.startswith("<"):
            fallback = fallback or (filename, frame.lineno)
            continue
        return filename, frame.lineno
    return fallback


def _types(grown: list[str], runs: int, notes: list[str]) -> tuple[list[dict[str, Any]], Any]:
    if not grown:
        return [], None
    wanted = set(grown)
    found: dict[str, list[Any]] = {name: [] for name in grown}
    for obj in gc.get_objects():
        name = type_name(obj)
        if name in wanted:
            found[name].append(obj)
    rows = []
    for name in grown:
        objects = found[name]
        rows.append(
            {
                "type": name,
                "count_per_run": len(objects) // runs,
                "retained_bytes_per_run": _retained(objects, notes) // runs,
                "samples": [safe_repr(o) for o in objects[-SAMPLES:]],
            }
        )
    top = found[grown[0]]
    sample = top[-1] if top else None
    found.clear()
    return rows, sample


def _retained(objects: list[Any], notes: list[str]) -> int:
    """Deep size (pympler) of ``objects``, scaled from a sample if many."""
    if not objects:
        return 0
    from pympler import asizeof  # imported only to explain a leak

    sized = objects[-SIZED_PER_TYPE:]
    try:
        total = asizeof.asizeof(*sized)
    except Exception as exc:
        notes.append(f"retained size unavailable: sizing raised {type(exc).__name__}")
        return 0
    return int(total * len(objects) / len(sized))


def _relative(filename: str) -> str:
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative
