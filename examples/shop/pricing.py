"""Quotes memoised on request data: unbounded memoisation is a leak."""

from __future__ import annotations

import functools
from collections import deque


@functools.lru_cache(maxsize=None)  # noqa: UP033 -- spelled out, beside maxsize=32 below
def quote_unbounded(cart: tuple[tuple[str, int], ...], request_id: str) -> float:
    """LEAK: the request id makes every key new, and nothing is ever evicted."""
    return sum(qty * 9.99 for _, qty in cart)


@functools.lru_cache(maxsize=32)
def quote_bounded(cart: tuple[tuple[str, int], ...], request_id: str) -> float:
    """Clean: the same memoisation, bounded."""
    return sum(qty * 9.99 for _, qty in cart)


# Clean: the last 16 quotes, for a status page.
recent_quotes: deque[float] = deque(maxlen=16)


def record_quote(value: float) -> None:
    recent_quotes.append(value)
