"""The decision rule: is a series of per-run measurements a leak?

Pure functions over numbers, with no pytest import, so that the rule can be
tested with tables of series.  A *series* is the list of per-run deltas of one
measure (traced bytes, live objects, live objects of one type) over the
measured runs, after the warm-up runs were thrown away.

The rule, after CPython's refleak hunter (``Lib/test/libregrtest/refleak.py``):

* **Steady growth is a leak.**  Every measured run grew (``delta >= 1``) and
  the typical (median) growth reaches the threshold: ``[5, 5, 6]`` and
  ``[10, 1, 1]`` (objects) are leaks.
* **Growth that is dying out asks for more runs.**  ``[1600, 584, 528, 117,
  64]`` bytes (a warm-up still settling, seen on Python 3.10) grew every run,
  but its last runs grew by under a quarter of its typical run.
* **No growth is clean.**  ``[0, 0, 0]``, ``[0, -3, 0]``.
* **Growth on fewer than two runs in three is clean.**  ``[3, 0, 0]`` (one
  late lazy initialisation), ``[0, 1, 0]``, ``[144, 56, 0, 0, 2200]`` (a dict
  of pytest's resized once) pass.
* **Faint growth asks for more runs too.**  Traced bytes that grew on every
  run, but by less than four times the threshold and with no object growth,
  must keep growing over more runs: a few dozen bytes of bookkeeping for a
  handful of runs, ``[208, 352, 64, 64, 64]`` then zeros, is not a leak.
* **Mixed evidence asks for more runs.**  Growth on two runs in three or
  more, but not on all, is not decided on five runs: the runner measures more runs, up to
  a cap, and calls it a leak only when the growth persists -- at least three
  runs in four grew, and the last third of the runs still grew by the threshold
  per run on average.  So ``[64, 64, 0, 0, 0, 0, 0, 0]`` (a cache that filled)
  passes, while a leak that a free list hides once in a while, ``[64, 64, 0,
  64, 64, 64]``, fails.  Most runs of that last third must have grown too:
  steady tens of bytes that stop, then one table resized (``[..., 88, 0, 0,
  0, 2200]``), are not a leak.
* **Bytes grow by whole objects.**  A run whose traced bytes grew by less than
  16 bytes made no new object (a string replaced by a slightly longer one, a
  counter that needs another digit): it does not count as a run that grew.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# The last runs must still grow by this fraction (1/4) of the typical growth.
DECAY_FACTOR = 4
# Bytes-only growth under this many times ``min_bytes`` per run is re-judged
# on more runs before it is called a leak.
FAINT_FACTOR = 4
# Interned strings are immortal from CPython 3.12: a name made per run and
# interned by the interpreter or pytest (a numbered tmp_path directory) stays
# for good.  Bytes-only growth of at most this much per new interned string
# is that, not the test's leak.
INTERNED_BYTES = 128
# A new Python object takes at least this many traced bytes: a run whose bytes
# grew by less made nothing new, it resized something (a longer string, a
# bigger int, a float replaced), so it does not count as a run that grew.
MIN_OBJECT_BYTES = 16
# The screen sends a test to traced runs when a counter grew on this fraction
# (one in three) of its runs.
SCREEN_FRACTION = 3


class Trend(enum.Enum):
    """What a series of deltas says."""

    FLAT = "flat"
    MIXED = "mixed"
    GROWING = "growing"


@dataclass(frozen=True, slots=True)
class Sample:
    """Cumulative measurements taken after one run (not deltas).

    :param traced_bytes: memory traced by tracemalloc, less the plugin's own.
    :param objects: live GC-tracked objects created since measuring began.
    :param by_type: the same, per type name.
    """

    traced_bytes: int
    objects: int
    by_type: Mapping[str, int] = field(default_factory=dict)
    interned: int = 0


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds of the rule (see the module docstring).

    :param min_bytes: typical traced growth per run, in bytes, that counts.
    :param min_objects: live objects per run that count.
    :param ignore_types: type names never reported as growing.
    """

    min_bytes: int = 64
    min_objects: int = 1
    ignore_types: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MemoryDecision:
    """The rule applied to one series of samples.

    :param bytes_per_run: traced-bytes deltas, one per measured run.
    :param objects_per_run: live-object deltas, one per measured run.
    :param growing_types: ``(type name, deltas)`` of the types that grew,
        largest total growth first.
    """

    bytes_trend: Trend
    objects_trend: Trend
    bytes_per_run: tuple[int, ...]
    objects_per_run: tuple[int, ...]
    growing_types: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def leaked(self) -> bool:
        return Trend.GROWING in (self.bytes_trend, self.objects_trend)

    @property
    def undecided(self) -> bool:
        """Mixed evidence and no steady growth: more runs would help."""
        return not self.leaked and Trend.MIXED in (
            self.bytes_trend,
            self.objects_trend,
        )


def deltas(values: Sequence[int]) -> tuple[int, ...]:
    """Differences between consecutive cumulative values."""
    return tuple(
        after - before for before, after in zip(values, values[1:], strict=False)
    )


def classify(series: Sequence[int], threshold: int, floor: int = 1) -> Trend:
    """Classify a short series of deltas (the measured runs).

    :param floor: the least growth that makes a run count as one that grew
        (``MIN_OBJECT_BYTES`` for bytes, 1 for objects).

    >>> classify([5, 5, 6], 1), classify([3, 3, 0], 1), classify([3, 0, 0], 1)
    (<Trend.GROWING: 'growing'>, <Trend.MIXED: 'mixed'>, <Trend.FLAT: 'flat'>)
    """
    threshold = max(threshold, 1)
    if not series:
        return Trend.FLAT
    typical = statistics.median(series)
    if all(d >= floor for d in series) and typical >= threshold:
        # A series that decays to a fraction of its typical growth is warm-up
        # still settling, not yet a leak: more runs will tell.
        if min(series[-2:]) * DECAY_FACTOR < typical:
            return Trend.MIXED
        return Trend.GROWING
    grew = sum(1 for d in series if d >= floor)
    if grew * 3 >= len(series) * 2 and any(d >= threshold for d in series):
        return Trend.MIXED
    return Trend.FLAT


def classify_extended(series: Sequence[int], threshold: int, floor: int = 1) -> Trend:
    """Decide a series that was extended because it was mixed.

    Growth must persist: three runs in four grew, and the last third still
    grew by ``threshold`` per run on average, most of its runs growing (one
    resize of a table near the end must not pass for a leak).  Anything else
    is FLAT: a one-off or a cache that filled up is not a leak.
    """
    first = classify(series, threshold, floor)
    if first is not Trend.MIXED:
        return first
    threshold = max(threshold, 1)
    grew = sum(1 for d in series if d >= floor)
    tail = series[-max(len(series) // 3, 1) :]
    tail_grew = sum(1 for d in tail if d >= floor)
    persistent = (
        grew * 4 >= len(series) * 3
        and sum(tail) >= threshold * len(tail)
        and tail_grew * 2 > len(tail)
    )
    return Trend.GROWING if persistent else Trend.FLAT


def decide(
    samples: Sequence[Sample], policy: Policy, *, extended: bool = False
) -> MemoryDecision:
    """Apply the rule to the samples of one test.

    :param samples: the baseline sample (before the first measured run), then
        one sample after each measured run.
    :param extended: the runs were already extended for mixed evidence, so
        decide now instead of asking for more.
    """
    judge = classify_extended if extended else classify
    bytes_series = deltas([s.traced_bytes for s in samples])
    objects_series = deltas([_counted_objects(s, policy) for s in samples])
    bytes_trend = judge(bytes_series, policy.min_bytes, MIN_OBJECT_BYTES)
    objects_trend = judge(objects_series, policy.min_objects)
    if not extended and _faint(bytes_trend, objects_trend, bytes_series, policy):
        bytes_trend = Trend.MIXED
    if _only_interned_strings(bytes_trend, objects_trend, bytes_series, samples):
        bytes_trend = Trend.FLAT
    return MemoryDecision(
        bytes_trend=bytes_trend,
        objects_trend=objects_trend,
        bytes_per_run=bytes_series,
        objects_per_run=objects_series,
        growing_types=growing_types(samples, policy),
    )


def _faint(
    bytes_trend: Trend, objects_trend: Trend, series: Sequence[int], policy: Policy
) -> bool:
    """Bytes-only growth near the threshold must persist over more runs.

    Interpreter and plugin bookkeeping (a dict that grows for its first few
    inserts) can add a few dozen bytes for a handful of runs, then stop.
    """
    return (
        bytes_trend is Trend.GROWING
        and objects_trend is Trend.FLAT
        and statistics.median(series) < FAINT_FACTOR * max(policy.min_bytes, 1)
    )


def _only_interned_strings(
    bytes_trend: Trend,
    objects_trend: Trend,
    series: Sequence[int],
    samples: Sequence[Sample],
) -> bool:
    """Bytes-only growth that new interned strings account for (3.12+).

    Every run interned at least one new string, and the typical run grew by
    no more than ``INTERNED_BYTES`` per new interned string.
    """
    if bytes_trend is Trend.FLAT or objects_trend is not Trend.FLAT or not series:
        return False
    interned = deltas([s.interned for s in samples])
    if not interned or min(interned) < 1:
        return False
    return statistics.median(series) <= INTERNED_BYTES * statistics.median(interned)


def interned_strings_explain(samples: Sequence[Sample], policy: Policy) -> bool:
    """Whether bytes grew but new interned strings account for it (for a note)."""
    series = deltas([s.traced_bytes for s in samples])
    objects = deltas([_counted_objects(s, policy) for s in samples])
    return _only_interned_strings(
        classify_extended(series, policy.min_bytes, MIN_OBJECT_BYTES),
        classify_extended(objects, policy.min_objects),
        series,
        samples,
    )


def _counted_objects(sample: Sample, policy: Policy) -> int:
    ignored = sum(sample.by_type.get(name, 0) for name in policy.ignore_types)
    return sample.objects - ignored


def growing_types(
    samples: Sequence[Sample], policy: Policy
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Types whose live count grew on every measured run, biggest first."""
    if len(samples) < 2:
        return ()
    names = set(samples[-1].by_type) - policy.ignore_types
    found = []
    for name in names:
        series = deltas([s.by_type.get(name, 0) for s in samples])
        if all(d >= 1 for d in series):
            found.append((name, series))
    found.sort(key=lambda item: (-sum(item[1]), item[0]))
    return tuple(found)


def screen(
    objects: Sequence[int],
    malloc_bytes: Sequence[int],
    blocks_growth: int,
    policy: Policy,
) -> list[str]:
    """What the cheap counters saw grow, or ``[]`` if the untraced runs look clean.

    :param objects: live new objects after each run (cumulative, the
        baseline first), the ignored types left out.
    :param malloc_bytes: the C allocator's bytes in use, likewise.
    :param blocks_growth: pymalloc blocks gained over the measured runs
        after the first.

    The screen must be at least as sensitive as the traced rule, which needs
    growth on two runs in three: malloc bytes that grew on a third of the
    runs after the first (at least two), any block gained after the first,
    or object growth the rule would not call flat, send the test to traced
    runs.
    """
    reasons = []
    object_series = deltas(objects)
    if classify(object_series, policy.min_objects) is not Trend.FLAT:
        reasons.append("objects " + _signed_series(object_series))
    if blocks_growth > 0:
        reasons.append(f"blocks +{blocks_growth}")
    malloc_series = deltas(malloc_bytes)
    # As for blocks, the first measured run's one-off replacements are no growth.
    if _grew_often(malloc_series[1:] if len(malloc_series) > 2 else malloc_series):
        reasons.append("malloc bytes " + _signed_series(malloc_series))
    return reasons


def _signed_series(series: Sequence[int]) -> str:
    return " ".join(f"{d:+d}" for d in series)


def _grew_often(series: Sequence[int]) -> bool:
    grew = sum(1 for d in series if d >= 1)
    return grew >= max(2, -(-len(series) // SCREEN_FRACTION))
