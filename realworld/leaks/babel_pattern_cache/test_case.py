"""babel <= 2.11.0: babel.dates caches every parsed date pattern forever.

``babel.dates.parse_pattern()`` stores each new pattern string in the module
dict ``_pattern_cache`` with no bound, so an application that formats dates
with many distinct patterns (e.g. patterns carrying quoted literal text such
as a user or a request id) grows without limit (python-babel/babel#962).
Fixed in babel 2.12 (PR #967) by an ``lru_cache(maxsize=1024)``.

Each call uses 1200 patterns never seen before, more than the fixed
version's LRU bound, so the fixed version stays flat from the first run on.
"""
from __future__ import annotations

import datetime
import itertools

from babel.dates import format_datetime

LIBRARY = "babel"

# start at 10**5 so every pattern has the same length (no drift from digit growth)
_serial = itertools.count(100000)
WHEN = datetime.datetime(2007, 4, 1, 13, 27, 53)


def test_format_with_distinct_patterns():
    for _ in range(1200):
        pattern = "yyyy-MM-dd HH:mm '[job %d]'" % next(_serial)
        format_datetime(WHEN, pattern, locale="en_US")
