"""Reprs of user objects that can be shown safely: short, never raising, secrets masked."""

from __future__ import annotations

import re

REPR_LIMIT = 120

_SECRET_PATTERNS = (
    # scheme://user:password@host -> scheme://user:***@host
    (re.compile(r"(\w+://[^:/@\s'\"]+:)([^@\s'\"]+)(@)"), r"\1***\3"),
    # password=..., 'api_key': '...', Authorization: Bearer ... (scheme and all)
    (
        re.compile(
            r"(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization)"
            r"['\"]?\s*[:=]\s*['\"]?)(?:(?:bearer|basic|token)\s+)?([^'\"\s,&;)}]+)"
        ),
        r"\1***",
    ),
    # a bare "Bearer abc..." anywhere else
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 ***"),
)


def mask_secrets(text: str) -> str:
    """Replace passwords in URLs, tokens and credential-like values by ``***``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def safe_repr(obj: object, limit: int = REPR_LIMIT) -> str:
    """``repr(obj)``, truncated and masked; a raising ``__repr__`` is reported, not raised."""
    try:
        text = repr(obj)
        if not isinstance(text, str):
            raise TypeError("__repr__ returned a non-string")
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        kind = type(obj)
        return f"<{kind.__module__}.{kind.__qualname__} object at {id(obj):#x} (repr raised {type(exc).__name__})>"
    text = mask_secrets(text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
