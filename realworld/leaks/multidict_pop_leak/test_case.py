"""multidict 6.6.0-6.6.3: popping keys out of a MultiDict leaks C-level memory.

Moving every entry of a 100-key MultiDict into another one with ``pop()``
leaks ~6 KB per dict in the C extension's hash-table storage (no Python
objects are left behind, so gc object counts stay flat - only traced bytes
grow). Fixed in multidict 6.6.4 (aio-libs/multidict#1233, issue #1232).
"""
from __future__ import annotations

from multidict import MultiDict

LIBRARY = "multidict"


def test_move_entries_with_pop():
    for _ in range(100):
        result = MultiDict()
        headers = MultiDict({"X-Any-%d" % i: str(i) for i in range(100)})
        for key in list(headers.keys()):
            result[key] = headers.pop(key)
