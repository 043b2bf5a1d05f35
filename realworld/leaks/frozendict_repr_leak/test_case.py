"""frozendict 2.3.2 (C extension, CPython <= 3.10): repr() leaks its result.

The C implementation of ``frozendict.__repr__`` leaks a reference to the
intermediate repr string, so every ``repr(fd)`` leaves a ``str`` behind.
Strings are not tracked by the gc: only traced bytes grow.
Reported in Marco-Sulla/python-frozendict#59, fixed in 2.3.3.
Needs Python 3.10: on 3.11+ frozendict 2.3.x falls back to pure Python.
"""
from __future__ import annotations

import frozendict as _fd_mod
from frozendict import frozendict

LIBRARY = "frozendict"

FD = frozendict({i: i for i in range(50)})


def test_repr():
    assert _fd_mod.c_ext, "C extension not loaded - use CPython 3.10"
    for _ in range(100):
        repr(FD)
