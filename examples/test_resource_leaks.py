"""Tests that leave resources open: `pytest --leakguard examples/` fails each of them.

No marker needed: under --leakguard every test gets a resource check.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from shop import clients


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[str, int]]:
    """A real TCP server on loopback, owned by the module (not a leak of any test)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)
            conn.sendall(b"OK\n")

    thread = threading.Thread(target=serve, name="echo-server")
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_connection_parked_in_a_pool_per_call(echo_server: tuple[str, int]) -> None:
    assert clients.fetch_leaky(echo_server) == b"OK\n"


def test_logging_handler_added_per_client() -> None:
    clients.add_request_logging_leaky(client_id=7)


def test_poller_thread_never_stopped() -> None:
    clients.start_poller_leaky()


def test_file_opened_and_dropped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "orders.csv").write_text("id,total\n1,9.99\n")
    rows = open(tmp_path / "orders.csv").readlines()  # noqa: SIM115 - the leak on purpose
    assert len(rows) == 2
