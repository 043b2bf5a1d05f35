"""websocket-client <= 1.3.2: a refused connection leaves its socket unclosed.

``websocket._http._open_socket`` creates a socket per address, and when
``connect()`` fails with ECONNREFUSED it remembers the error and moves on
without closing the socket. The socket object is simply dropped, so the fd
is released by the garbage collector and only a
``ResourceWarning: unclosed <socket.socket ...>`` shows the leak.
Fixed in websocket-client 1.3.3 (websocket-client/websocket-client#826,
"Fix unclosed socket when 'error.errno in eConnRefused'").

Only loopback traffic: the target is a local TCP socket that is bound but
never listens, so every connect() is refused immediately.
"""
from __future__ import annotations

import atexit
import socket

import websocket

LIBRARY = "websocket-client"

_target = None


def _refusing_port():
    global _target
    if _target is None:
        _target = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        _target.bind(("127.0.0.1", 0))  # bound, never listen(): connect is refused
        atexit.register(_target.close)
    return _target.getsockname()[1]


def test_connect_refused():
    url = "ws://127.0.0.1:%d/" % _refusing_port()
    for _ in range(20):
        try:
            websocket.create_connection(url, timeout=2)
        except ConnectionRefusedError:
            pass
