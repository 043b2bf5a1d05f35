"""A run that fails while leakguard explains a leak goes through pytest_exception_interact.

The explanation step re-runs the test.  When such a hidden run fails, pytest's
call_and_report() calls pytest_exception_interact, so other plugins react to
a failure the user never sees: pytest-timeout cancels its timer and resets
SIGALRM to SIG_DFL, and leakguard then reports "1 signal-handler left open:
signal SIGALRM -> SIG_DFL" (anyio: streams/test_memory.py::test_statistics[asyncio],
"Note: the test failed while being explained").  With --pdb the same hook
would open the debugger on the hidden run.
Needs pytest-timeout.

    pytest -p no:cacheprovider --timeout=60 --leakguard-all realworld/repros/test_bug_failure_while_explaining.py
"""

from __future__ import annotations

import pytest

pytest.importorskip("pytest_timeout")

_kept: list[bytearray] = []


def test_leaks_then_fails_on_a_late_run():
    _kept.append(bytearray(10_000))  # a leak, so leakguard explains it with extra runs
    assert len(_kept) <= 8, "fails only on the runs after the 3 + 5 measured ones"
