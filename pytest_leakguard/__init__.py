"""pytest-leakguard: fail tests whose memory keeps growing or that leave resources open.

Public names only; importing this package imports no measuring library.
"""

from __future__ import annotations

import gc
import sys


def _skip_assertion_rewriting() -> None:
    """Load leakguard's modules with Python's own loader, not pytest's.

    pytest marks every installed plugin's package for assertion rewriting,
    and its loader reads each cached module back with ``marshal.load`` on a
    file object, piece by piece: for leakguard's thirty modules that cost
    about 20 ms per run, the plugin's largest start-up cost.  leakguard has
    no assertion whose message matters, so it takes its package off the
    list before importing the rest.  The list is pytest's private state:
    when it is not where it was, nothing is changed.
    """
    for finder in sys.meta_path:
        marked = getattr(finder, "_must_rewrite", None)
        cache = getattr(finder, "_marked_for_rewrite_cache", None)
        if isinstance(marked, set) and isinstance(cache, dict) and __name__ in marked:
            marked.discard(__name__)
            cache.clear()


_skip_assertion_rewriting()

from .resources.base import Resource, ResourceChecker  # noqa: E402

#: Objects the interpreter itself left in the permanent generation before any
#: user code ran (CPython 3.12.0 and 3.12.1 report a few hundred at start-up;
#: other versions none).  Read when pytest loads the plugin: a freeze count
#: above it is someone's ``gc.freeze()``; equal to it, nobody's.
FROZEN_AT_START = gc.get_freeze_count()

__all__ = ["Resource", "ResourceChecker"]
