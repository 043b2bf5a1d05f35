"""Explaining a leak: what grew, where it was allocated, who holds it.

Runs only for a test already judged leaky, so it may walk the heap.  It runs
the test a few more times with deeper tracebacks, then looks at what those
runs left alive.  Everything it returns is formatted text and numbers: no
object of the test outlives this module's functions.
"""

from __future__ import annotations

import contextlib
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
from .probes import MemoryProbe, automatic_gc_paused, collect_garbage, type_name
from .redact import safe_repr
from .refpath import find_path
from .runner import ItemDriver, run_until
from .verdict import MemoryDecision

TRACEBACK_FRAMES = 16
TOP_SITES = 5
MAX_TRACES = 100_000
SITED_OBJECTS = 200
_UNSEEN = object()
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

    Four more runs: A settles the deeper tracing; what run B creates is
    noted; what of it is still alive after run D is the leak -- per-run state
    that a later run replaced is gone by then.  Runs C and D are traced:
    allocation sites are what grew between the snapshot after C and the one
    after D, so what C made and D replaced (a wrapper re-created per run)
    cancels out.
    """
    notes: list[str] = []
    _, done = run_until(driver, 1, _settle)
    probe.refreeze()
    if done:
        _, done = run_until(driver, 1, _settle)
    created_in_b = gc.get_objects() if done else []
    # Only runs C and D are traced, with deep tracebacks.  A user's own
    # tracing is not restarted: then the sites come from the objects.
    restarted = probe.trace_deeper(TRACEBACK_FRAMES)
    places = plugin_files(driver.item.config)
    after_c = None
    if done:
        _, done = run_until(driver, 1, _settle)
    if done and restarted and tracemalloc.is_tracing():
        after_c = _totals_by_site(places)
        _, done = run_until(driver, 1, _settle)
        if not done:  # C's allocations, replaced objects included, are all we have
            after_c = None
    if not done:
        notes.append(
            "the test failed while being explained; the explanation is partial"
        )
    # Under the user's own tracing (PYTHONTRACEMALLOC), snapshots hold the
    # whole process: the sites come from the leaked objects' tracebacks.
    sites = _sites(places, notes, after_c) if restarted else []
    # The walks below would each allocation be traced with deep tracebacks,
    # and automatic collections would traverse the leak again and again.
    probe.stop_tracing()
    with automatic_gc_paused():
        survivors = _still_held(created_in_b)
        created_in_b.clear()
        grown = list(decision.growing_types)
        types, sample = _types(survivors, grown, notes)
        if not restarted:
            sites = _sites_of_objects(survivors, grown, places, notes)
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
    plugin_files: tuple[str, ...],
    notes: list[str],
    earlier: dict[tuple[str, int], list[int]] | None = None,
) -> list[dict[str, Any]]:
    """What the traced runs left allocated, by user site: since ``earlier``
    (the totals one run before), or all of it."""
    if not tracemalloc.is_tracing():
        notes.append("tracemalloc was not tracing: no allocation sites")
        return []
    totals = _totals_by_site(plugin_files)
    for site, before in (earlier or {}).items():
        if site in totals:
            totals[site] = [totals[site][0] - before[0], totals[site][1] - before[1]]
    return _ranked(totals)


def _sites_of_objects(
    survivors: list[Any],
    grown: list[tuple[str, tuple[int, ...]]],
    plugin_files: tuple[str, ...],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Sites from the tracebacks of leaked objects (sizes from ``sys.getsizeof``)."""
    wanted = {name for name, _ in grown}
    totals: dict[tuple[str, int], list[int]] = {}
    for obj in [o for o in survivors if type_name(o) in wanted][:SITED_OBJECTS]:
        traceback = tracemalloc.get_object_traceback(obj)
        site = user_frame(traceback, plugin_files) if traceback is not None else None
        if site is None:
            continue
        entry = totals.setdefault(site, [0, 0])
        with contextlib.suppress(Exception):  # a hostile __sizeof__
            entry[0] += sys.getsizeof(obj)
        entry[1] += 1
    if not totals:
        notes.append(
            "no allocation site: tracemalloc was started by the test run itself"
        )
    return _ranked(totals)


def _ranked(totals: dict[tuple[str, int], list[int]]) -> list[dict[str, Any]]:
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
        if size > 0
    ]


def _totals_by_site(plugin_files: tuple[str, ...]) -> dict[tuple[str, int], list[int]]:
    """Traced bytes and blocks per user site, now.

    Works on the snapshot's raw traces with a cache per traceback, and looks
    at ``MAX_TRACES`` of them at most (scaled up): a test that leaks a million
    objects per run must still be explained in seconds.
    """
    snapshot = tracemalloc.take_snapshot()
    raw = getattr(snapshot.traces, "_traces", None)  # private, since 3.4
    if raw is None:
        raw = [
            (t.domain, t.size, tuple(reversed(t.traceback)), 0) for t in snapshot.traces
        ]
    del snapshot
    step = max(len(raw) // MAX_TRACES, 1)
    sites: dict[Any, object] = {}
    totals: dict[tuple[str, int], list[int]] = {}
    for trace in raw[::step]:
        frames = trace[2]
        site = sites.get(frames, _UNSEEN)
        if site is _UNSEEN:
            site = sites[frames] = _innermost_user_frame(frames, plugin_files)
        if isinstance(site, tuple):
            entry = totals.setdefault(site, [0, 0])
            entry[0] += trace[1] * step
            entry[1] += step
    return totals


def _innermost_user_frame(
    frames: Any, plugin_files: tuple[str, ...]
) -> tuple[str, int] | None:
    """``frames`` are raw (filename, lineno) pairs, the most recent first."""
    for filename, lineno in frames:
        if _is_user_file(filename, plugin_files):
            return filename, lineno
    return None


def _is_user_file(filename: str, plugin_files: tuple[str, ...]) -> bool:
    return not (
        filename.startswith(_SKIPPED_DIRS)
        or filename.startswith(plugin_files)
        or filename.startswith(_STDLIB)
        or filename.startswith("<")
    )


def user_frame(
    traceback: tracemalloc.Traceback, plugin_files: tuple[str, ...]
) -> tuple[str, int] | None:
    """The innermost frame in the test or the code under test.

    Frames of this plugin, pytest, pluggy, other pytest plugins, the stdlib
    and generated code (``<string>``) never count: the site is where the
    test or the code under test called into them.
    """
    innermost_first = [
        (frame.filename, frame.lineno) for frame in reversed(list(traceback))
    ]
    return _innermost_user_frame(innermost_first, plugin_files)


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
