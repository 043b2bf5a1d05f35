"""Slowness: every broader-scoped fixture's teardown waits the whole settle time.

SessionState.fixture_finished() calls guard.new_since({k: frozenset() for k in opened}, ...).
When the fixture opened nothing, ``opened`` is {} and so is that "before":
every fd, thread, socket... of the process counts as new, never settles, and
the teardown sleeps the full 1 s.  With ``opened`` non-empty the same happens
for every kind it opened (all pre-existing fds of the process, say).

    pytest -p no:cacheprovider --leakguard --durations=3 realworld/repros/test_slow_scoped_fixture_teardown.py
    # plain: ~0.01 s; --leakguard: test_a's teardown takes 2.00 s (1 s per fixture)
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def first():
    yield 1  # noqa: PT022 -- a yield fixture, as most real ones are


@pytest.fixture(scope="session")
def second():
    yield 2  # noqa: PT022


def test_a(first, second):
    assert first + second == 3
