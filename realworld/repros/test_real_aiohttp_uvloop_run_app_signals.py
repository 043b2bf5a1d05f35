"""Real leak: aiohttp's run_app on uvloop leaves SIGINT/SIGTERM on the closed loop.

aiohttp 3.10.5's BaseRunner.setup() installs SIGINT/SIGTERM handlers before
app startup; when startup raises (here GracefulExit, as in aiohttp's own
tests/test_web_runner.py::test_run_after_asyncio_run), self._server stays None
and cleanup() returns early, never removing them.  asyncio's loop.close()
restores them anyway; uvloop 0.19's close() does not: its
remove_signal_handler() returns False once the loop is not running, so the
closed Loop's __sighandler stays installed for the rest of the process.

    pytest -p no:cacheprovider --leakguard test_real_aiohttp_uvloop_run_app_signals.py
    # [uvloop] -> LEAKED 2 signal-handler (SIGINT, SIGTERM -> Loop.__sighandler); [asyncio] passes
Needs aiohttp 3.10.5 and uvloop 0.19.0 (the aiohttp venv the script builds).
"""
from __future__ import annotations

import asyncio
import signal

import pytest

aiohttp_web = pytest.importorskip("aiohttp.web")
uvloop = pytest.importorskip("uvloop")


@pytest.mark.parametrize("policy", ["asyncio", "uvloop"])
def test_run_app_whose_startup_exits(policy):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy() if policy == "uvloop" else None)
    try:

        async def shutdown():
            raise aiohttp_web.GracefulExit()

        app = aiohttp_web.Application()
        app.on_startup.append(lambda a: asyncio.create_task(shutdown()))
        aiohttp_web.run_app(app, port=0, print=None)
    finally:
        asyncio.set_event_loop_policy(None)
    after = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    # independent of leakguard: the handlers changed under uvloop only
    assert (after == before) == (policy == "asyncio"), (before, after)
