"""False positive: pytest's own once-per-session atexit hook, blamed on a broader-scoped fixture.

The first tmp_path_factory.mktemp() of a session creates the base temp dir and
registers atexit.register(TempPathFactory._exit_stack.close) (_pytest/tmpdir.py).
When that first call happens in a class/module-scoped fixture set up during a
checked test, leakguard reports the fixture as leaving an atexit callback:
"atexit: fixture data_dir (module scope) left open: atexit callback
contextlib.ExitStack.close" -- twice: once as the test's own leak and once as the
fixture's.  A function-scoped tmp_path does not hit this (pytest's own sites are ignored).
In anyio: tests/streams/test_file.py::TestFileReadStream::test_extra_attributes[trio].

    pytest -p no:cacheprovider --leakguard realworld/repros/test_fp_pytest_basetemp_atexit.py
"""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def test_uses_data_dir(data_dir):
    assert data_dir.exists()
