"""False positive: what a watcher thread left by an earlier test starts, blamed on later tests.

watchdog's ``AutoRestartTrick`` restarts its command when it exits: the child's
``ProcessWatcher`` thread, on seeing the child end, starts the next child and the
next ``ProcessWatcher`` from its own thread, then returns.  In watchdog 7.1.0's
suite, ``tests/test_0_watchmedo.py::test_auto_restart_on_file_change_debounce``
fails here (timing) and leaves its trick running; from then on, every test during
which the child restarted was reported with "1 process, 1 thread left open"
(eleven of them, in ``test_emitter.py``, ``test_observers_polling.py`` ...).
Both were created by a thread that was running before the test began and had
ended by its end, so the rule "what another live thread opened is its owner's"
did not apply.

    /tmp/leakguard-realworld/watchdog/venv/bin/python -m pytest -p no:cacheprovider \
        --leakguard --leakguard-settle-time=0.2 realworld/repros/test_fp_restarting_watcher.py
    # at d74e3c4: test_leaves_a_trick_running LEAKED (right) and test_innocent_first
    # LEAKED "1 process, 1 thread left open" (wrong); since 0ce8c71: only the first.
"""

from __future__ import annotations

import sys
import time

from watchdog.tricks import AutoRestartTrick

CHILD = [sys.executable, "-c", "import time; time.sleep(0.5)"]
TRICKS: list[AutoRestartTrick] = []


def test_leaves_a_trick_running():
    trick = AutoRestartTrick(CHILD)  # restarts the child whenever it exits
    trick.start()
    TRICKS.append(trick)


def test_innocent_first():
    time.sleep(1.2)


def test_innocent_second():
    time.sleep(1.2)


def test_zz_stop_the_trick():
    for trick in TRICKS:
        trick.stop()
