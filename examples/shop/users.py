"""User lookups with three kinds of cache: one leaks, two don't."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field


@dataclass
class User:
    user_id: int
    name: str
    roles: list[str] = field(default_factory=list)
    dsn: str = "postgresql://app:s3cret-pass@db.internal/app"


def load_user(user_id: int) -> User:
    """Pretend database read."""
    return User(user_id, f"user-{user_id}", ["reader"])


# LEAK: every user ever requested stays here for the life of the process.
_CACHE: dict[str, User] = {}


def get_user_cached_forever(user_id: int) -> User:
    key = f"user:{user_id}"
    if key not in _CACHE:
        _CACHE[key] = load_user(user_id)
    return _CACHE[key]


@functools.lru_cache(maxsize=64)
def get_user_bounded(user_id: int) -> User:
    """Clean: at most 64 users are kept, whatever the traffic."""
    return load_user(user_id)


class Session:
    """A per-request object that is dropped at the end of the request (clean)."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.scratch = [user.name] * 10
