"""Standalone driver for one leak case (does not need pytest-leakguard).

Run it from a case's folder with the interpreter of a venv that has the
pinned library installed:

    cd <case> && python ../verify_case.py [runs] [warmups]

It imports ``test_case.py`` from the current folder, calls every ``test_*`` function
once per run (2 warm-up runs first, then 8 measured runs by default) and prints,
per measured run, the delta of:

* ``traced``   - ``tracemalloc.get_traced_memory()[0]`` after ``gc.collect()``
* ``objects``  - ``len(gc.get_objects())`` after ``gc.collect()``
* ``fds``      - entries in ``/proc/self/fd``
* ``handlers`` - live ``logging.Handler`` objects (``len(logging._handlerList)``)
* ``resw``     - ``ResourceWarning``s emitted during the run (absolute count)
"""
from __future__ import annotations

import gc
import logging
import os
import sys
import tracemalloc
import warnings
from importlib import metadata

HERE = os.getcwd()  # the case's folder
sys.path.insert(0, HERE)

import test_case  # noqa: E402

TESTS = [getattr(test_case, n) for n in sorted(dir(test_case))
         if n.startswith("test_") and callable(getattr(test_case, n))]


def _fds():
    return len(os.listdir("/proc/self/fd"))


def _run_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for t in TESTS:
            t()
        gc.collect()
    return sum(1 for w in caught if issubclass(w.category, ResourceWarning))


def _snapshot():
    gc.collect()
    gc.collect()
    return (tracemalloc.get_traced_memory()[0], len(gc.get_objects()),
            _fds(), len(logging._handlerList))


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    warmups = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    lib = getattr(test_case, "LIBRARY", None)
    ver = metadata.version(lib) if lib else "?"
    print(f"python {sys.version.split()[0]}  {lib}=={ver}  tests={[t.__name__ for t in TESTS]}")
    tracemalloc.start()
    for _ in range(warmups):
        _run_once()
    prev = _snapshot()
    deltas = []
    for i in range(runs):
        resw = _run_once()
        cur = _snapshot()
        d = tuple(c - p for c, p in zip(cur, prev))
        deltas.append(d + (resw,))
        print(f"run {i + 1}: traced={d[0]:+d} B  objects={d[1]:+d}  fds={d[2]:+d}  "
              f"handlers={d[3]:+d}  resw={resw}")
        # re-baseline after bookkeeping so the driver's own allocations
        # (result tuples, printing) are not charged to the next run
        prev = _snapshot()
    cols = list(zip(*deltas))
    print("summary traced:", list(cols[0]))
    print("summary objects:", list(cols[1]))
    print("summary fds:", list(cols[2]), " handlers:", list(cols[3]), " resw:", list(cols[4]))


if __name__ == "__main__":
    main()
