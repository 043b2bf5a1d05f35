"""requests' tests/conftest.py wraps pytest-httpbin's session fixture in a
function-scoped fixture of the same name:

    @pytest.fixture
    def httpbin(httpbin):          # function scope, overrides the plugin's
        return prepare_url(httpbin)    # session-scoped ``httpbin``

Under ``--leakguard`` the first test that uses it fails with "fixture httpbin
(session scope) left open: socket listening on ...; Thread ... running in
select()", although the session fixture is alive and shuts its server down at
session end.  Same here with stdlib only: a session fixture ``server`` (a
listening socket served by a thread) overridden, in a class, by a
function-scoped ``server`` that requests it.  Passes plain; under --leakguard
test_first fails (test_second passes).
"""

import socket
import threading

import pytest


@pytest.fixture(scope="session")
def server():
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve)
    thread.start()
    yield sock.getsockname()
    stop.set()
    thread.join()
    sock.close()


class TestOverride:
    @pytest.fixture
    def server(self, server):  # function scope, same name: wraps the session one
        host, port = server
        return f"http://{host}:{port}/"

    def test_first(self, server):
        assert server.startswith("http://127.0.0.1:")

    def test_second(self, server):
        assert server.startswith("http://127.0.0.1:")
