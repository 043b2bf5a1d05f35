"""Byte sizes as people write them ("50 MB", "64 KiB") and as reports print them.

Decimal units are powers of 1000 (``KB``, ``MB``, ``GB``), binary units powers
of 1024 (``KiB``, ``MiB``, ``GiB``), as the IEC and SI define them; ``B`` or a
bare number is bytes.  Reports always print binary units.
"""

from __future__ import annotations

import re

UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: object) -> int:
    """Bytes in ``value``: an ``int`` or a string such as ``"1.5 MiB"``.

    :raises ValueError: with a message naming the value and the accepted units.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}: expected a number of bytes")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"invalid size {value!r}: must not be negative")
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"invalid size {value!r}: expected e.g. 512, '64 KiB', '50 MB'"
        )
    match = _SIZE.match(value)
    unit = (match.group(2) or "b").lower() if match else ""
    if not match or unit not in UNITS:
        accepted = ", ".join(["B", "KB", "KiB", "MB", "MiB", "GB", "GiB"])
        raise ValueError(
            f"invalid size {value!r}: expected a number and one of {accepted}"
        )
    return int(float(match.group(1)) * UNITS[unit])


def format_size(size: float) -> str:
    """``1234`` -> ``'1.2 KiB'``; signs are kept (``-64 B``)."""
    magnitude = abs(size)
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if magnitude >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{int(size)} B"


def format_limit(size: int) -> str:
    """A size the user probably wrote: decimal units when it is round in them."""
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return format_size(size)
