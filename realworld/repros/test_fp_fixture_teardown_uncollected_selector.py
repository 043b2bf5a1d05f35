"""FALSE POSITIVE (websockets 13.1 sync server, R-websockets): a broader fixture's
thread drops a selector whose reference cycle (EpollSelector._map -> _SelectorMapping
-> the selector) only the cyclic GC frees; the epoll fd is closed at the next
gc.collect().  The per-test check collects garbage before it looks (the function-
scoped twin below passes), the broader fixture's teardown check does not, so the
module fixture is reported as having left an "epoll instance" open.

Passes under plain pytest; `pytest --leakguard` fails test_b_module with
"fixture server_module (module scope) left open: epoll instance (fd N)";
`REPRO_GC=1 pytest --leakguard` (the fixture's teardown ends with gc.collect()) passes.
"""

import gc
import os
import selectors
import threading

import pytest


def serve(stop_fd):
    # websockets/sync/server.py:248: poller = selectors.DefaultSelector(), never closed
    poller = selectors.DefaultSelector()
    poller.register(stop_fd, selectors.EVENT_READ)
    poller.select()


def _server():
    r, w = os.pipe()
    t = threading.Thread(target=serve, args=(r,))
    t.start()
    yield
    os.write(w, b"x")
    t.join()
    os.close(r)
    os.close(w)
    if os.environ.get("REPRO_GC"):
        gc.collect()  # with this, --leakguard passes: the epoll fd was only garbage


server_module = pytest.fixture(scope="module")(_server)
server_function = pytest.fixture(_server)


def test_function_scoped_twin(server_function):
    pass  # the same thing per test: not flagged


def test_a_module(server_module):
    pass


def test_b_module(server_module):
    pass  # the module fixture is torn down during this test's teardown: flagged
