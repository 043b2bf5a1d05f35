"""ujson.dump() leaks the serialized JSON str when the target's write() raises.

Leaky: ujson 5.12.0 (and earlier 5.x); fixed in ujson 5.12.1 (CVE-2026-44660).
The leaked object is a plain ``str`` (not tracked by the gc), so only traced
bytes grow; object counts stay flat.
"""
from __future__ import annotations

import ujson

LIBRARY = "ujson"

PAYLOAD = {"key%d" % i: "value-%d" % i * 4 for i in range(50)}


class FailingWriter:
    def write(self, data):
        raise OSError("disk full")


def test_dump_to_failing_writer():
    out = FailingWriter()
    for _ in range(100):
        try:
            ujson.dump(PAYLOAD, out)
        except OSError:
            pass
