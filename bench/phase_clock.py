"""A pytest plugin that stamps the phases of one run, for ``bench/run.py --phases``.

Loaded with ``-p phase_clock`` (``bench/`` on ``PYTHONPATH``), so it is imported
while pytest reads its arguments, before the installed plugins load.  Every
stamp is ``time.monotonic()``, which is the same clock in the bench's process:
the bench notes when it started the run and when the run ended, and turns
the stamps into phases (``PHASES`` in ``bench/run.py``).  The last ``atexit`` callback
writes them to the file named by ``LEAKGUARD_BENCH_CLOCK``.

Only hooks that run once per session are wrapped: a ``pytest_runtest_protocol``
implementation of a module leakguard has not reviewed would make it take its
own snapshot before every test (see ``pytest_leakguard.handoff``), the very
cost being measured.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections.abc import Generator
from typing import Any

import pytest

#: The stamps of this run; "imported" is taken here, at import.
STAMPS: dict[str, float] = {"imported": time.monotonic()}


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    STAMPS["configured"] = time.monotonic()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    STAMPS["collected"] = time.monotonic()


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, Any, Any]:
    STAMPS["loop_started"] = time.monotonic()
    try:
        return (yield)
    finally:
        STAMPS["loop_ended"] = time.monotonic()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    STAMPS["unconfigured"] = time.monotonic()


def _write_stamps() -> None:
    path = os.environ.get("LEAKGUARD_BENCH_CLOCK")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(STAMPS, out)


# Registered at import, before any plugin's: atexit runs it last.
atexit.register(_write_stamps)
