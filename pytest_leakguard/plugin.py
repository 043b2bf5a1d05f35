"""pytest entry point (placeholder while the core is written)."""

from __future__ import annotations
