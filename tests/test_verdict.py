"""The decision rule, as tables of series (no pytest plugin involved)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_leakguard.verdict import (
    MIN_OBJECT_BYTES,
    Policy,
    Sample,
    Trend,
    classify,
    classify_extended,
    decide,
    deltas,
)


@pytest.mark.parametrize(
    ("series", "threshold", "expected"),
    [
        ([5, 5, 6], 1, Trend.GROWING),  # CPython's example of a leak
        ([10, 1, 1], 1, Trend.GROWING),
        ([3, 0, 0], 1, Trend.FLAT),  # a late lazy initialisation
        ([0, 1, 0], 1, Trend.FLAT),  # noise
        ([8, 8, -8, 1], 1, Trend.MIXED),  # decided on more runs
        ([144, 56, 0, 0, 2200], 64, Trend.FLAT),  # warm-up tail and one dict resize
        ([1600, 584, 528, 117, 64], 64, Trend.MIXED),  # warm-up still settling (3.10)
        ([2600, 1100, 480, 480, 470], 64, Trend.GROWING),
        ([8, -8, 0, 0, 1], 1, Trend.FLAT),
        ([0, 0, 0, 0, 0], 1, Trend.FLAT),
        ([64, 64, 0, 64, 64], 64, Trend.MIXED),
        (
            [200, 200, 200, 200, 10],
            64,
            Trend.MIXED,
        ),  # a last run far below the rest: more runs
        ([30, 30, 30, 30, 30], 64, Trend.FLAT),  # below the byte threshold
        ([], 1, Trend.FLAT),
    ],
)
def test_short_series_are_classified_like_cpythons_refleak_hunter(
    series: list[int], threshold: int, expected: Trend
) -> None:
    assert classify(series, threshold) is expected


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (
            [64, 64, 0, 64, 64, 64, 64, 0, 64, 64, 64, 64],
            Trend.GROWING,
        ),  # a lumpy leak persists
        ([64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0, 0], Trend.FLAT),  # a cache that filled
        ([64, 0, 64, 0, 64, 0, 64, 0, 0, 0, 0, 0], Trend.FLAT),
        (
            [64, 64, 0, 64, 64, 64, 64, 64, 64, 0, 0, 0],
            Trend.FLAT,
        ),  # stopped at the end
        ([8, -8, 1, 0, 0, 0, 0, 0, 0], Trend.FLAT),
    ],
)
def test_extended_series_are_leaks_only_when_growth_persists(
    series: list[int], expected: Trend
) -> None:
    assert classify_extended(series, 64) is expected


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        # anyio under --leakguard-all (F8): tens of bytes that stop, one table resized
        (
            [1256, 176, 464, 176, 88, 2272, 88, 88, 88, 88, 88, 0, 0, 0, 2200],
            Trend.FLAT,
        ),
        # sqlite-utils' Hypothesis tests (H1): strings and numbers a few bytes
        # longer each run, and an occasional resize: nothing new
        (
            [41, 1536, 155, 41, 9, 3686, 3, 9, 2253, 9, 6, 41, 6, 151, 167],
            Trend.FLAT,
        ),
        # a steady leak of 80 B per run with one resize in the tail stays a leak
        ([80, 80, 80, 0, 80, 80, 80, 80, 80, 80, 2200, 80], Trend.GROWING),
        # a lumpy leak persists in bytes too
        ([64, 64, 0, 64, 64, 64, 64, 0, 64, 64, 64, 64], Trend.GROWING),
    ],
)
def test_extended_bytes_count_whole_objects_and_a_growing_tail(
    series: list[int], expected: Trend
) -> None:
    assert classify_extended(series, 64, MIN_OBJECT_BYTES) is expected


def _samples(objects: list[int], traced: list[int] | None = None) -> list[Sample]:
    traced = traced or [0] * len(objects)
    return [
        Sample(traced_bytes=b, objects=o, by_type={"Conn": o})
        for b, o in zip(traced, objects, strict=True)
    ]


def test_types_that_grew_every_run_are_named_largest_first() -> None:
    samples = [
        Sample(0, 3, {"Conn": 1, "dict": 2}),
        Sample(0, 6, {"Conn": 2, "dict": 4}),
        Sample(0, 9, {"Conn": 3, "dict": 6}),
    ]
    decision = decide(samples, Policy())
    assert decision.leaked
    assert decision.growing_types == (("dict", (2, 2)), ("Conn", (1, 1)))


def test_ignored_types_do_not_count_towards_the_object_total() -> None:
    samples = [Sample(0, n, {"Conn": n}) for n in (0, 1, 2, 3)]
    decision = decide(samples, Policy(ignore_types=frozenset({"Conn"})))
    assert not decision.leaked
    assert decision.growing_types == ()


def test_deltas_are_differences_of_consecutive_values() -> None:
    assert deltas([1, 4, 4, 10]) == (3, 0, 6)


@given(st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=20))
def test_a_series_with_a_zero_is_never_steady_growth(series: list[int]) -> None:
    series = [*series, 0]
    assert classify(series, 1) is not Trend.GROWING


@given(
    st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=20),
    st.integers(1, 5),
)
def test_scaling_a_leak_up_never_turns_it_into_a_pass(
    series: list[int], factor: int
) -> None:
    if classify(series, 64) is Trend.GROWING:
        assert classify([d * factor for d in series], 64) is Trend.GROWING


@given(st.lists(st.integers(min_value=-100, max_value=0), min_size=1, max_size=30))
def test_a_series_that_never_grows_is_flat(series: list[int]) -> None:
    assert classify(series, 1) is Trend.FLAT
    assert classify_extended(series, 1) is Trend.FLAT


def _interned_samples(traced: list[int], interned: list[int]) -> list[Sample]:
    return [
        Sample(traced_bytes=b, objects=0, interned=i)
        for b, i in zip(traced, interned, strict=True)
    ]


@pytest.mark.parametrize(
    ("traced", "interned", "leaked"),
    [
        # one new immortal interned string (3.12+) per run, ~51 B: pytest's tmp_path
        ([0, 51, 102, 153, 204, 255], [0, 1, 2, 3, 4, 5], False),
        # the same bytes with no interned string behind them: a leak
        ([0, 300, 600, 900, 1200, 1500], [0, 0, 0, 0, 0, 0], True),
        # far more bytes than the new interned strings explain: a leak
        ([0, 1000, 2000, 3000, 4000, 5000], [0, 1, 2, 3, 4, 5], True),
    ],
)
def test_growth_explained_by_new_interned_strings_is_not_a_leak(
    traced: list[int], interned: list[int], leaked: bool
) -> None:
    assert decide(_interned_samples(traced, interned), Policy()).leaked is leaked


@pytest.mark.parametrize(
    ("blocks", "resized", "grew"),
    [
        ([1, 1, 1, 1, 1], [0] * 5, True),  # a 1 KiB string kept per run
        ([7, 7, 7, 7, 7], [0] * 5, True),  # a tuple of six new ints kept per run
        ([1, 1, 0, 1, 1], [0] * 5, True),  # a free list hides one run
        # blockbuster's closures moving into traced blocks (anyio, F8)
        ([0, 0, 0, 0, 0], [0] * 5, False),
        ([3, 0, 0, 0, 0], [0] * 5, False),
        ([23, -22, 22, 0, -22], [0] * 5, False),  # a worker thread caught busy
        # A string replaced by one 100 bytes longer on the same line.
        ([0, 0, 0, 0, 0], [100] * 5, True),
        # A buffer with spare room, reallocated every other run.
        ([0, 0, 0, 0, 0], [0, 11250, 0, 11250, 0], True),
        ([0] * 5, [560, 0, 0, 0, 0], False),  # one table rebuilt larger
        ([0] * 5, [0, 30, 0, 30, 0], False),  # two small resizes, under the threshold
    ],
)
def test_confirmation_tells_growth_from_replacement(
    blocks: list[int], resized: list[int], grew: bool
) -> None:
    from pytest_leakguard.newly_traced import Confirmation

    confirmation = Confirmation(tuple(blocks), tuple(resized), tuple(resized))

    assert confirmation.grew(min_bytes=64) is grew
    note = confirmation.note(min_bytes=64)
    assert ("tracing catching up" in note) is not grew
    assert note.count("blocks " + " ".join(f"{b:+d}" for b in blocks)) == 1


def test_resizes_in_bursts_are_not_growth_when_the_traced_bytes_shrank() -> None:
    """anyio's F9: two resizes (560 B, 128 B) in five runs while other runs
    gave back up to 432 traced bytes: rebuilt, not growing."""
    from pytest_leakguard.newly_traced import Confirmation

    replaced = Confirmation(
        (1, 0, -1, 0, 1), (560, 0, 128, 0, 0), (816, 0, -40, 0, -432)
    )
    growing = Confirmation((0, 0, 0, 0, 0), (560, 0, 128, 0, 0), (560, 0, 128, 0, 0))

    assert not replaced.grew(min_bytes=64)
    assert "tracing catching up" in replaced.note(min_bytes=64)
    assert growing.grew(min_bytes=64)
