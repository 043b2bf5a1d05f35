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
import statistics
import sys
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
_OWN_FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "*")


def explain_leak(
    driver: ItemDriver, probe: MemoryProbe, decision: MemoryDecision
) -> dict[str, Any]:
    """Sites, types with retained sizes, a reference path and sample reprs.

    Three more runs: A settles the deeper tracing; what run B creates is
    noted; what of it is still alive after run C is the leak -- per-run state
    that C replaced is gone by then.  Allocation sites are C's growth.
    """
    notes: list[str] = []
    probe.trace_deeper(TRACEBACK_FRAMES)
    _, done = run_until(driver, 1, _settle)
    probe.refreeze()
    if done:
        _, done = run_until(driver, 1, _settle)
    created_in_b = gc.get_objects() if done else []
    before = _snapshot()
    if done:
        _, done = run_until(driver, 1, _settle)
    if not done:
        notes.append(
            "the test failed while being explained; the explanation is partial"
        )
    survivors = _still_held(created_in_b)
    created_in_b.clear()
    sites = _sites(before, plugin_files(driver.item.config), notes)
    del before
    grown = list(decision.growing_types)
    types, sample = _types(survivors, grown, notes)
    del survivors
    path = None
    if sample is not None:
        path = find_path(sample, lambda: _unfrozen(probe))
        if path is None:
            notes.append(
                f"no path from a module, class or frame to a leaked {type_name(sample)} was found"
            )
    elif not grown:
        notes.append(
            "what grew is not tracked by the GC (str, int, bytes ...): see the allocation sites"
        )
    del sample
    return {"sites": sites, "types": types, "path": path, "notes": notes}


def _still_held(candidates: list[Any]) -> list[Any]:
    """Those of ``candidates`` that something other than ``candidates`` holds.

    We hold every candidate ourselves (ids alone would be reused by the next
    run's objects), so "alive" means: referenced from outside the candidate
    set -- the reference count exceeds our own references plus those from
    other candidates -- or reachable from such an object.
    """
    index = {id(obj): i for i, obj in enumerate(candidates)}
    internal = [0] * len(candidates)
    for obj in candidates:
        for referent in gc.get_referents(obj):
            j = index.get(id(referent))
            if j is not None:
                internal[j] += 1
    ours = _own_reference_count()
    held = [
        i
        for i, obj in enumerate(candidates)
        if sys.getrefcount(obj) - ours - internal[i] > 0
    ]
    reached, stack = set(held), list(held)
    while stack:
        for referent in gc.get_referents(candidates[stack.pop()]):
            j = index.get(id(referent))
            if j is not None and j not in reached:
                reached.add(j)
                stack.append(j)
    return [candidates[i] for i in sorted(reached)]


def _own_reference_count() -> int:
    """References ``_still_held``'s loop itself adds to an object held only by a list."""
    alone = [object()]
    for i, obj in enumerate(alone):
        return sys.getrefcount(obj) + 0 * i
    return 0


def _snapshot() -> tracemalloc.Snapshot | None:
    if not tracemalloc.is_tracing():
        return None
    # The snapshots themselves are allocated while tracing: leave them out.
    return tracemalloc.take_snapshot().filter_traces(
        [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, _OWN_FILES),
        ]
    )


def plugin_files(config: Any) -> tuple[str, ...]:
    """Where the pytest plugins in use live (conftests are the user's code).

    A plugin inside a package stands for its whole package directory
    (pytest_memray/plugin.py -> pytest_memray/); a top-level module only for
    itself, since its directory is site-packages, home of the code under test.
    """
    places = set()
    for plugin in config.pluginmanager.get_plugins():
        filename = getattr(plugin, "__file__", None)
        if not isinstance(filename, str) or filename.endswith("conftest.py"):
            continue
        package = getattr(plugin, "__package__", "") or ""
        places.add(os.path.dirname(filename) + os.sep if package else filename)
    return tuple(sorted(places))


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
    before: tracemalloc.Snapshot | None, plugin_files: tuple[str, ...], notes: list[str]
) -> list[dict[str, Any]]:
    after = _snapshot()
    if before is None or after is None:
        notes.append("tracemalloc was not tracing: no allocation sites")
        return []
    totals: dict[tuple[str, int], list[int]] = {}
    for stat in after.compare_to(before, "traceback"):
        if stat.size_diff <= 0:
            continue
        site = user_frame(stat.traceback, plugin_files)
        if site is None:
            continue
        entry = totals.setdefault(site, [0, 0])
        entry[0] += stat.size_diff
        entry[1] += stat.count_diff
    del after, before
    ranked = sorted(totals.items(), key=lambda item: -item[1][0])[:TOP_SITES]
    return [
        {
            "file": _relative(filename),
            "line": lineno,
            "source": linecache.getline(filename, lineno).strip(),
            "bytes_per_run": size,
            "blocks_per_run": count,
        }
        for (filename, lineno), (size, count) in ranked
    ]


def user_frame(
    traceback: tracemalloc.Traceback, plugin_files: tuple[str, ...]
) -> tuple[str, int] | None:
    """The innermost frame in the test or the code under test.

    Frames of this plugin, pytest, pluggy, other pytest plugins, the stdlib
    and generated code (``<string>``) never count: the site is where the
    test or the code under test called into them.
    """
    for frame in reversed(list(traceback)):  # oldest first -> innermost first
        filename = frame.filename
        if filename.startswith(_SKIPPED_DIRS) or filename.startswith(plugin_files):
            continue
        if filename.startswith(_STDLIB) or filename.startswith("<"):
            continue
        return filename, frame.lineno
    return None  # only pytest's and the stdlib's own frames: not the test's


def _types(
    survivors: list[Any], grown: list[tuple[str, tuple[int, ...]]], notes: list[str]
) -> tuple[list[dict[str, Any]], Any]:
    """Rows for the types that grew, and one object to find a path to.

    Counts come from the measured runs; sizes and samples from the objects
    that outlived a run.  The path is most telling for the test's own
    classes, so one of those is preferred over builtin containers.
    """
    wanted = {name for name, _ in grown}
    by_type: dict[str, list[Any]] = {}
    for obj in survivors:
        name = type_name(obj)
        if name in wanted:
            by_type.setdefault(name, []).append(obj)
    rows = []
    for name, series in grown[:TOP_TYPES]:
        objects = by_type.get(name, [])
        count = int(statistics.median(series))
        each = _retained(objects, notes) / len(objects) if objects else 0
        rows.append(
            {
                "type": name,
                "count_per_run": count,
                "retained_bytes_per_run": int(each * count),
                "samples": [safe_repr(o) for o in objects[-SAMPLES:]],
            }
        )
    preferred = [name for name, _ in grown if "." in name and by_type.get(name)]
    preferred += [name for name, _ in grown if by_type.get(name)]
    sample = by_type[preferred[0]][-1] if preferred else None
    by_type.clear()
    return rows, sample


def _retained(objects: list[Any], notes: list[str]) -> int:
    """Deep size (pympler) of ``objects``, scaled from a sample if many."""
    if not objects:
        return 0
    from pympler import asizeof  # imported only to explain a leak

    sized = objects[-SIZED_PER_TYPE:]
    try:
        total: int = asizeof.asizeof(*sized)  # type: ignore[no-untyped-call]
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
