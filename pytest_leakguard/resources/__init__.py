"""Resource checkers: what a test opened or registered and did not give back."""

from __future__ import annotations

from .base import Resource, ResourceChecker

__all__ = ["Resource", "ResourceChecker"]
