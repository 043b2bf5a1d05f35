"""False positive: the stdlib's once-per-process atexit hook of weakref.finalize.

The first weakref.finalize() of a process registers atexit.register(finalize._exitfunc)
(weakref.py, finalize._registered_with_atexit) and keeps it for good.
tempfile.TemporaryDirectory() makes a finalize, so whichever test first makes one
is reported as "atexit callback weakref.finalize._exitfunc" left open; later ones pass.
In anyio: tests/test_sockets.py::TestUNIXStream::test_extra_attributes[asyncio-path]
(its socket_path fixture uses tempfile.TemporaryDirectory()).

    pytest -p no:cacheprovider --leakguard realworld/repros/test_fp_weakref_finalize_atexit.py
    # test_first -> LEAKED 1 atexit left open; test_second passes.  Use a venv with only pytest +
    # leakguard (e.g. /tmp/leakguard-realworld/cachetools/venv): in /work/main/.venv another
    # plugin has already made a finalize, so nothing is new.
"""
from __future__ import annotations

import tempfile


def test_first():
    with tempfile.TemporaryDirectory() as path:
        assert path


def test_second():
    with tempfile.TemporaryDirectory() as path:
        assert path
