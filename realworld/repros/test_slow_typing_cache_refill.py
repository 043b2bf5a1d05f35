"""Slowness: leakguard's own cache clearing makes typing's lru_cache look "still filling".

check._after_run() clears typing's caches (caches.clear_interpreter_caches) after
every measured run.  When a test that looks leaky subscripts a Generic at run
time (pytest's own subtests do ``CallInfo[None]``; so do many libraries),
_fill_bounded_caches() sees typing.Generic.__class_getitem__'s lru_cache grow
by 1 during its probe run and runs the test until that cache is full:
~130 extra runs ("Measured runs: 5 of 142 runs in all").  For attrs'
Hypothesis test tests/test_3rd_party.py that was 305 s instead of ~1 s.

    pytest -p no:cacheprovider --leakguard-all realworld/repros/test_slow_typing_cache_refill.py
"""
from __future__ import annotations

import typing

T = typing.TypeVar("T")


class Box(typing.Generic[T]):
    pass


_kept = []


def test_real_leak_with_generic_subscript():
    Box[int]  # re-added to the (cleared) typing cache on each run
    _kept.append(bytearray(10_000))  # a genuine leak, so the bounded-cache check kicks in
