"""Tests that leak memory: `pytest --leakguard examples/` fails each of them."""

from __future__ import annotations

import itertools

import pytest

from shop import events, pricing, users

_request_ids = itertools.count()


@pytest.mark.leakguard
def test_user_cache_grows_with_every_request() -> None:
    user = users.get_user_cached_forever(next(_request_ids))
    assert user.name.startswith("user-")


@pytest.mark.leakguard
def test_listener_registered_on_every_request() -> None:
    assert events.handle_request_leaky(next(_request_ids))


@pytest.mark.leakguard
def test_unbounded_lru_cache_on_request_data() -> None:
    cart = (("apple", 2), ("pear", 1))
    assert pricing.quote_unbounded(cart, f"req-{next(_request_ids)}") > 0
