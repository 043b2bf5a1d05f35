"""multidict 4.7.0-4.7.3: iterating a MultiDict leaks the dict and a _KeysView.

``iter(MultiDict(...))`` creates a keys view and an iterator in the C
extension; 4.7.x forgot to release the view, so the view *and* the MultiDict
it points to stay alive forever (2 gc-tracked objects per iteration).
Reported in aio-libs/multidict#452, fixed in 4.7.4.
4.7.3/4.7.4 have no wheels for modern Pythons: install from sdist with gcc on
CPython 3.10.
"""
from __future__ import annotations

from multidict import MultiDict

LIBRARY = "multidict"


def test_iterate_multidict():
    for _ in range(100):
        list(MultiDict((("arb", "value"),)))
