"""A per-request listener registry: the textbook listener leak and its fix."""

from __future__ import annotations

from collections.abc import Callable

_listeners: list[Callable[[str], None]] = []


def subscribe(listener: Callable[[str], None]) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def publish(event: str) -> None:
    for listener in list(_listeners):
        listener(event)


class RequestAudit:
    def __init__(self, request_id: int) -> None:
        self.request_id = request_id
        self.seen: list[str] = []

    def on_event(self, event: str) -> None:
        self.seen.append(event)


def handle_request_leaky(request_id: int) -> list[str]:
    """LEAK: subscribes a bound method per request and never unsubscribes."""
    audit = RequestAudit(request_id)
    subscribe(audit.on_event)
    publish(f"request {request_id}")
    return audit.seen


def handle_request(request_id: int) -> list[str]:
    """Clean: the subscription ends with the request."""
    audit = RequestAudit(request_id)
    unsubscribe = subscribe(audit.on_event)
    try:
        publish(f"request {request_id}")
    finally:
        unsubscribe()
    return audit.seen
