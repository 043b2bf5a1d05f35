"""pytest-leakguard: fail tests whose memory keeps growing or that leave resources open.

Public names only; importing this package imports no measuring library.
"""

from __future__ import annotations

import gc

from .resources.base import Resource, ResourceChecker

#: Objects the interpreter itself left in the permanent generation before any
#: user code ran (CPython 3.12.0 and 3.12.1 report a few hundred at start-up;
#: other versions none).  Read when pytest loads the plugin: a freeze count
#: above it is someone's ``gc.freeze()``; equal to it, nobody's.
FROZEN_AT_START = gc.get_freeze_count()

__all__ = ["Resource", "ResourceChecker"]
