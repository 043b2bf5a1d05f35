"""pytest-leakguard: fail tests whose memory keeps growing or that leave resources open."""

from __future__ import annotations

__all__: list[str] = []
