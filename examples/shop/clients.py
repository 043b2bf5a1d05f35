"""Outbound connections and background work, leaked and not."""

from __future__ import annotations

import logging
import socket
import sqlite3
import threading

_pool: list[socket.socket] = []
_orders: sqlite3.Connection | None = None


def fetch_leaky(address: tuple[str, int]) -> bytes:
    """LEAK: opens a connection per call and parks it in a module-level pool."""
    conn = socket.create_connection(address)
    conn.sendall(b"GET\n")
    _pool.append(conn)
    return conn.recv(16)


def fetch(address: tuple[str, int]) -> bytes:
    """Clean: the connection is closed when the call ends."""
    with socket.create_connection(address) as conn:
        conn.sendall(b"GET\n")
        return conn.recv(16)


def orders_db() -> sqlite3.Connection:
    """Clean: one database for the process, opened on first use and reused."""
    global _orders
    if _orders is None:
        _orders = sqlite3.connect(":memory:", check_same_thread=False)
        _orders.execute("create table orders (id integer primary key, total real)")
    return _orders


def add_request_logging_leaky(client_id: int) -> logging.Logger:
    """LEAK: a handler per client, added to a shared logger and never removed."""
    logger = logging.getLogger("shop.requests")
    logger.addHandler(logging.NullHandler())
    logger.info("client %s connected", client_id)
    return logger


def start_poller_leaky() -> threading.Event:
    """LEAK: a poller thread that nobody stops."""
    stop = threading.Event()
    threading.Thread(target=stop.wait, name="poller", daemon=True).start()
    return stop


def run_poller_once() -> None:
    """Clean: the worker thread is joined before returning."""
    worker = threading.Thread(target=lambda: None, name="poller")
    worker.start()
    worker.join()
