"""False positives and a miss: multiprocessing's spawn start method raises no audit event.

apscheduler 3.11.0's ``ProcessPoolExecutor`` uses the spawn context.  In its suite,
``tests/test_executors.py::test_max_instances[pytz-processpool]``, the first test to use
it, was reported with "1 fd left open": the pipe to multiprocessing's resource tracker,
a process started once per process, by whichever code first needs it.

1. The resource tracker (and its pipe) is one-time set-up: reported on the test that
   started it.
2. A child started by the spawn method raises no audit event, so the process checker,
   which lists children only after a counted spawn, missed it in the test that left it
   running (only its pipes were reported), and blamed it, with the resource tracker, on
   the next test that forked a child.

    pytest -p no:cacheprovider --leakguard -p no:randomly realworld/repros/test_fp_multiprocessing_spawn.py
    # at 2453ec2: all three LEAKED (the tracker's pipe; "2 fd" with no process; the
    # forked, joined child's test blamed for "2 process"); since the fix, only the second,
    # with its process and the line that started it.
"""

from __future__ import annotations

import multiprocessing
import time


def sleeper():
    time.sleep(3)


def test_a_spawn_lock_starts_the_resource_tracker():
    multiprocessing.get_context("spawn").Lock()


def test_spawned_child_left_running():
    multiprocessing.get_context("spawn").Process(target=sleeper).start()


def test_forked_child_waited_for():
    child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
    child.start()
    child.join()
    child.close()
