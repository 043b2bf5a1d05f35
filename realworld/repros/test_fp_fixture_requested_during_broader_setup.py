"""redis-py 5.0.8's tests/test_asyncio/test_sentinel.py has a module-scoped
pytest-asyncio fixture (a plain generator):

    @pytest_asyncio.fixture(scope="module")
    def master_ip(master_host):
        yield socket.gethostbyname(master_host[0])

pytest-asyncio 1.x's own ``pytest_fixture_setup`` wrapper calls
``request.getfixturevalue("_module_scoped_runner")`` while it sets
``master_ip`` up, so the runner fixture (an ``asyncio.Runner`` whose event loop
lives until the module ends) is set up *inside* ``master_ip``'s setup.  At the
module's end pytest tears ``master_ip`` down first and the runner (which
closes its loop) after it.  Under ``--leakguard`` the module's last test,
``test_auto_close_pool[slave_for]``, fails with "fixture master_ip (module
scope) left open: asyncio event loop <_UnixSelectorEventLoop> not closed
(created at pytest_asyncio/plugin.py:806 in _scoped_runner)", although the
loop is closed a moment later by the fixture that made it.

Same here with stdlib only: ``outer`` requests ``loop_runner`` during its setup
(as pytest-asyncio does), ``loop_runner`` closes its loop at its teardown.
Passes plain; under --leakguard test_second (the module's last test) failed
(F23).
"""

import asyncio

import pytest


@pytest.fixture(scope="module")
def loop_runner():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def outer(request):
    # pytest-asyncio: runner = request.getfixturevalue(f"_{loop_scope}_scoped_runner")
    request.getfixturevalue("loop_runner")
    yield "value"


def test_first(outer):
    assert outer == "value"


def test_second(outer):
    assert outer == "value"

