"""Their clean counterparts: `pytest --leakguard examples/` passes each of them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from shop import clients


@pytest.fixture(scope="module")
def echo_server() -> Iterator[tuple[str, int]]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.sendall(b"OK\n")

    thread = threading.Thread(target=serve, name="echo-server")
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join()
    listener.close()


def test_connection_closed_after_the_call(echo_server: tuple[str, int]) -> None:
    assert clients.fetch(echo_server) == b"OK\n"


def test_worker_thread_joined() -> None:
    clients.run_poller_once()


def test_file_read_with_a_context_manager(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "orders.csv").write_text("id,total\n1,9.99\n")
    with open(tmp_path / "orders.csv") as handle:
        assert len(handle.readlines()) == 2


def test_thread_that_finishes_a_moment_after_the_test() -> None:
    threading.Thread(target=threading.Event().wait, args=(0.05,)).start()


def test_database_opened_on_first_use_and_reused() -> None:
    """The first test to use it leaves it open, as every later one will reuse it:
    leakguard runs the test again, sees nothing new opened, and says so in a note."""
    db = clients.orders_db()
    db.execute("insert into orders (total) values (9.99)")
    assert db.execute("select count(*) from orders").fetchone()[0] >= 1
