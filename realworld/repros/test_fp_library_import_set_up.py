"""False positives: a library's one-time set-up, done by the test that first imports it.

1. The logging documentation advises a library to add one ``NullHandler`` to its
   own logger when it is imported; distlib does (``distlib/__init__.py``), and
   filelock's ``tests/test_virtualenv.py::test_virtualenv`` imports it for the first
   time, through virtualenv: "logging handler NullHandler() on logger 'distlib'".
2. ``multiprocessing.util`` registers its exit function with atexit from its
   module body; waitress' ``tests/test_functional.py::SleepyThreadTests::test_it``
   makes the process's first ``multiprocessing.Queue``: "atexit callback
   multiprocessing.util._exit_function".

Both happen once per process, in whichever test imports the module first.

    pytest -p no:cacheprovider --leakguard realworld/repros/test_fp_library_import_set_up.py
    # before 778a9c8: both tests LEAKED; since: both pass.  Needs a process that has not
    # imported either module yet (a venv with only pytest + leakguard, as for the others).
"""

from __future__ import annotations

import logging
import sys


def test_a_library_imported_here_adds_its_null_handler():
    assert "distlib" not in sys.modules, "imported before the test: nothing to show"
    import distlib  # noqa: F401  (pip's vendored copy will not do: it is not this logger)

    assert any(type(h) is logging.NullHandler for h in logging.getLogger("distlib").handlers)


def test_the_first_multiprocessing_queue_imports_multiprocessing_util():
    assert "multiprocessing.util" not in sys.modules, "imported before the test: nothing to show"
    import multiprocessing

    queue = multiprocessing.Queue()
    queue.close()
    queue.join_thread()
