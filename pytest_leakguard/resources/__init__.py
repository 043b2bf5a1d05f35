"""Resource checkers: what a test opened or registered and did not give back."""

from __future__ import annotations

from .base import Resource, ResourceChecker


def builtin_checkers() -> list[ResourceChecker]:
    """One instance of every built-in checker, in report order."""
    return []


__all__ = ["Resource", "ResourceChecker", "builtin_checkers"]
