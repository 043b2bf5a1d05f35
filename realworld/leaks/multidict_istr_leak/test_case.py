"""multidict 6.3.0-6.3.2: every istr key created by CIMultiDict leaks.

Iterating ``CIMultiDict.items()`` and re-adding the pairs to another
CIMultiDict creates ``istr`` keys whose internal canonical string is never
released (aio-libs/multidict#1131, bisected to #1101). ``istr`` is a str
subclass that the gc does not track, so only traced bytes grow.
Fixed in multidict 6.4.0 (PR #1133).
"""
from __future__ import annotations

from multidict import CIMultiDict

LIBRARY = "multidict"


def test_copy_items_between_cimultidicts():
    for _ in range(100):
        result = CIMultiDict()
        headers = CIMultiDict({"X-Any-%d" % i: str(i) for i in range(10)})
        for key, value in headers.items():
            result.add(key, value)
