"""Real (test-side) resource leak: a socketserver shut down but never closed.

h11/tests/test_against_stdlib_http.py's socket_server() helper calls
httpd.shutdown() (stops serve_forever) but never httpd.server_close(), so the
listening socket stays open until the server object is collected, which then
warns "unclosed <socket.socket ... laddr=('127.0.0.1', PORT)>".

    pytest -p no:cacheprovider --leakguard realworld/repros/test_real_h11_server_not_closed.py
    # test_shutdown_only -> LEAKED 1 unclosed socket; test_shutdown_and_close passes
"""
from __future__ import annotations

import socketserver
import threading


def _serve(close):
    httpd = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    httpd.shutdown()
    thread.join()
    if close:
        httpd.server_close()


def test_shutdown_only():
    _serve(close=False)


def test_shutdown_and_close():
    _serve(close=True)
