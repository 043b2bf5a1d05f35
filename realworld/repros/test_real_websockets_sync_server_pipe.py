"""REAL (websockets 13.1 .. 16.0): websockets.sync.server.Server leaks a pipe per server.

Server.__init__ (websockets/sync/server.py:233 in 13.1) makes
``self.shutdown_watcher, self.shutdown_notifier = os.pipe()``; shutdown()
(server.py:273-280) closes the listening socket and writes to the pipe, and
nothing ever closes either end: two raw fds per server, which no garbage
collection can close.  Needs websockets (skipped without it).

Passes plain; `pytest --leakguard` fails it with "2 fd left open (pipe read/write end)".
"""

import gc
import os
import threading

import pytest

sync_server = pytest.importorskip("websockets.sync.server")


def _fds():
    return set(os.listdir("/proc/self/fd"))


def test_server_served_and_shut_down_properly():
    before = _fds()
    with sync_server.serve(lambda ws: None, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        server.shutdown()
        thread.join()
    gc.collect()
    left = _fds() - before
    # the two ends of Server's shutdown pipe, still open after shutdown, exit and GC
    assert len(left) == 2, left
