"""Interpreter caches cleared between runs, so that bounded caches never look like leaks.

Each entry is a cache that fills on first use and is bounded in production
(CPython's refleak hunter clears the same ones in ``dash_R_cleanup``).  State
that grows the same way in production -- registries, module dicts,
``sys.modules``, ``sys.path``, the user's own ``lru_cache``\\ s -- is never
cleared: that growth is what users need to see.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

CLEARED_CACHES = (
    "re: compiled patterns (re.purge)",
    "fnmatch: compiled patterns",
    "typing: generic alias caches",
    "struct: compiled formats",
    "urllib.parse: split results",
    "linecache: source lines",
    "the type attribute cache (sys._clear_type_cache / sys._clear_internal_caches)",
)


def clear_interpreter_caches() -> None:
    """Clear the caches in ``CLEARED_CACHES`` that are loaded; never raise."""
    for clear in _clearers():
        with contextlib.suppress(Exception):  # an uncleared cache only costs precision
            clear()


def _clearers() -> list[Callable[[], object]]:
    modules = sys.modules
    clearers: list[Callable[[], object]] = []
    if "re" in modules:
        clearers.append(modules["re"].purge)
    fnmatch = modules.get("fnmatch")
    compile_pattern = getattr(fnmatch, "_compile_pattern", None)
    if compile_pattern is not None and hasattr(compile_pattern, "cache_clear"):
        clearers.append(compile_pattern.cache_clear)
    typing = modules.get("typing")
    clearers.extend(getattr(typing, "_cleanups", ()))
    if "struct" in modules:
        clearers.append(modules["struct"]._clearcache)
    if "urllib.parse" in modules:
        clearers.append(modules["urllib.parse"].clear_cache)
    if "linecache" in modules:
        clearers.append(modules["linecache"].clearcache)
    # 3.13 renamed the type-cache reset and made it clear more internal caches.
    clearers.append(
        getattr(sys, "_clear_internal_caches", None) or sys._clear_type_cache
    )
    return clearers
