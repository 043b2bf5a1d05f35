"""paddle-python-sdk <= 1.14.0: every Client() adds a NullHandler to a shared logger.

``Client.null_logger()`` calls ``getLogger("null_logger").addHandler(NullHandler())``
each time a ``Client`` is built without an explicit logger, so handlers pile
up on the process-wide ``null_logger`` forever (PaddleHQ/paddle-python-sdk#144).
Fixed in 1.15.0 (PR #145: only add the handler when the logger has none).
No network traffic: constructing a Client does not contact the API.
"""
from __future__ import annotations

from paddle_billing import Client

LIBRARY = "paddle-python-sdk"


def test_build_clients():
    for _ in range(20):
        client = Client("pdl_fake_api_key_for_leak_test")
        client.client.close()  # the requests.Session it creates
