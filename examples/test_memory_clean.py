"""Their clean counterparts: `pytest --leakguard examples/` passes each of them."""

from __future__ import annotations

import itertools

import pytest

from shop import events, pricing, users

_request_ids = itertools.count()


@pytest.mark.leakguard
def test_bounded_user_cache_is_not_a_leak() -> None:
    """An lru_cache(maxsize=64) fed a new key per call fills, then stops growing."""
    assert users.get_user_bounded(next(_request_ids)).user_id >= 0


@pytest.mark.leakguard
def test_listener_removed_after_request() -> None:
    assert events.handle_request(next(_request_ids))


@pytest.mark.leakguard
def test_bounded_lru_cache_and_recent_deque() -> None:
    cart = (("apple", 2),)
    value = pricing.quote_bounded(cart, f"req-{next(_request_ids)}")
    pricing.record_quote(value)


@pytest.mark.leakguard
def test_per_request_objects_are_dropped() -> None:
    session = users.Session(users.load_user(next(_request_ids)))
    assert len(session.scratch) == 10


@pytest.fixture
def basket() -> list[str]:
    return []


@pytest.mark.leakguard
def test_appending_to_a_function_scoped_fixture_is_not_a_leak(
    basket: list[str],
) -> None:
    basket.append("apple" * 10)
    assert basket


@pytest.mark.leakguard
def test_lazy_one_time_initialisation_is_not_a_leak() -> None:
    import json  # first import during warm-up only

    assert json.dumps({"a": 1})
