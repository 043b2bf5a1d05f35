"""Interaction: pytest-timeout's per-item timer spans all of leakguard's repetitions.

pytest-timeout (method "signal", the default on Linux) arms SIGALRM in its
pytest_runtest_protocol hookwrapper, around leakguard's whole check of the
item, so the 3 + 5 runs (up to 142 when a bounded cache is being filled)
share one timeout meant for a single run.  anyio's suite sets timeout = 20;
under --leakguard-all tests/test_to_thread.py::test_cancel_worker_thread
(0.2 s sleep, 78-95 runs) was reported as
"LEAKED 1 signal-handler left open: signal SIGALRM -> SIG_DFL".
Needs pytest-timeout.

    pytest -p no:cacheprovider --timeout=2 --leakguard-all realworld/repros/test_bug_pytest_timeout_repeats.py
    # plain: passes in 0.3 s; --leakguard-all: 8 x 0.3 s > 2 s
"""
from __future__ import annotations

import time

import pytest

pytest.importorskip("pytest_timeout")


def test_takes_a_third_of_a_second():
    time.sleep(0.3)
