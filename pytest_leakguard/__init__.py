"""pytest-leakguard: fail tests whose memory keeps growing or that leave resources open.

Public names only; importing this package imports no measuring library.
"""

from __future__ import annotations

from .resources.base import Resource, ResourceChecker

__all__ = ["Resource", "ResourceChecker"]
