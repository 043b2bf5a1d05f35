"""Missed leak (P6): a repeated test's resource dropped in a reference cycle.

paho-mqtt's websocket tests leave the client's socket in a cycle when the handshake
fails.  ``--leakguard`` flagged them; ``--leakguard-all`` did not: the runs' garbage
was freed by the memory probe's own full collections, after each run's warning
capture had ended, so the ResourceWarning went to the filters that ignore it.

    pytest -p no:cacheprovider --leakguard realworld/repros/test_bug_cycle_unclosed_when_repeated.py
    pytest -p no:cacheprovider --leakguard-all realworld/repros/test_bug_cycle_unclosed_when_repeated.py
    # before b4190cd: LEAKED, then 1 passed; since: LEAKED 1 unclosed in both.
"""

from __future__ import annotations

import socket


class Holder:
    def __init__(self) -> None:
        self.me = self  # the cycle: only a collection frees it
        self.sock = socket.socket()


def test_drops_a_socket_in_a_cycle():
    Holder()
