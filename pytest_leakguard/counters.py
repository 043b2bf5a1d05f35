"""Cheap heap counters: the screen that spares clean tests the cost of tracing.

tracemalloc slows every allocation of the code it traces (about twice, for
allocation-heavy tests).  Most checked tests are clean, so their measured runs
are first watched with two process-wide counters that cost nothing while the
test runs and under a microsecond to read:

* ``sys.getallocatedblocks()``: blocks held in pymalloc's arenas -- every
  small object, str, int, float and small buffer, tracked by the GC or not
  (CPython's refleak hunter uses the same counter);
* the C allocator's bytes in use (glibc's ``mallinfo2``): what is too large
  for pymalloc (big strings, bytes, buffers, arrays) and what C extensions
  allocate with ``malloc`` directly.

A test whose counters show growth is measured again with tracemalloc, which
decides; so the screen only has to be at least as sensitive as the traced rule
for the common shapes of leak.  Its blind spot: growth *inside* an existing
small object (a global string re-allocated 64 bytes larger while under 512
bytes) changes neither counter.  ``leakguard_tracing = always`` traces every
measured run instead.

Platform differences live here: ``mallinfo2`` exists from glibc 2.33; older
glibc has ``mallinfo`` with 32-bit fields (deltas are read modulo 2**32);
elsewhere (macOS, musl, Windows, PyPy without ``getallocatedblocks``) there is
no screen and every measured run is traced.
"""

from __future__ import annotations

import array
import ctypes
import functools
import sys
from collections.abc import Callable

_MALLINFO_FIELDS = (
    "arena",
    "ordblks",
    "smblks",
    "hblks",
    "hblkhd",
    "usmblks",
    "fsmblks",
    "uordblks",
    "fordblks",
    "keepcost",
)
_WRAP_32 = 1 << 32


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO_FIELDS]


class _Mallinfo(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint) for name in _MALLINFO_FIELDS]


@functools.cache
def _malloc_reader() -> tuple[Callable[[], int], int] | None:
    """A function returning the C allocator's bytes in use, and its modulus.

    Looked up once per process: the interpreter's own symbols include libc's.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    structure: type[ctypes.Structure]
    if hasattr(libc, "mallinfo2"):
        function, structure, modulus = libc.mallinfo2, _Mallinfo2, 0
    elif hasattr(libc, "mallinfo"):
        function, structure, modulus = libc.mallinfo, _Mallinfo, _WRAP_32
    else:  # musl has neither
        return None
    function.restype = structure
    function.argtypes = ()

    def in_use() -> int:
        info = function()
        # Small chunks in use plus chunks mapped on their own (large buffers).
        return int(info.uordblks + info.hblkhd)

    try:
        in_use()
    except Exception:  # a libc that lies about its symbols
        return None
    return in_use, modulus


class HeapCounters:
    """Reads both counters; ``available`` is False where there is no screen.

    ``malloc_bytes`` is cumulative and never wraps: with the 32-bit
    ``mallinfo`` each reading is turned into the nearest delta from the last.
    """

    def __init__(self) -> None:
        reader = _malloc_reader()
        self._read_malloc: Callable[[], int] | None = reader[0] if reader else None
        self._modulus = reader[1] if reader else 0
        self._blocks = getattr(sys, "getallocatedblocks", None)
        # Ints replaced on each reading (allocated once here, not per sample).
        self._last_raw = self._total = self._read_malloc() if self._read_malloc else 0

    @property
    def available(self) -> bool:
        return self._read_malloc is not None and self._blocks is not None

    def blocks(self) -> int:
        return self._blocks() if self._blocks is not None else 0

    def malloc_bytes(self) -> int:
        if self._read_malloc is None:
            return 0
        raw = self._read_malloc()
        if not self._modulus:
            return raw
        half = self._modulus // 2
        self._total += (raw - self._last_raw + half) % self._modulus - half
        self._last_raw = raw
        return self._total


class ScreenReadings:
    """The screen's readings, one slot per sample, in preallocated arrays.

    Storing a reading allocates nothing, so the screen needs no compensation
    for its own storage.  ``sys.getallocatedblocks()`` walks every pymalloc
    pool (its cost follows the heap), so it is read twice: after the first
    measured run and after the last.  Blocks the first measured run adds
    once (the first replacement, after the freeze, of what the previous run
    left) are not growth; a leak grows on the later runs too.
    """

    def __init__(self, samples: int) -> None:
        self.capacity = samples
        self.count = 0
        # With a single measured run, its own growth is all there is to see.
        self._first_blocks_at = 1 if samples > 2 else 0
        self._objects = array.array("q", bytes(8 * samples))
        self._malloc = array.array("q", bytes(8 * samples))
        self._blocks = array.array("q", bytes(16))

    def record(self, counters: HeapCounters, objects: int) -> None:
        index = self.count
        if index >= self.capacity:
            return
        if index == self._first_blocks_at:
            self._blocks[0] = counters.blocks()
        if index == self.capacity - 1:
            self._blocks[1] = counters.blocks()
        self._malloc[index] = counters.malloc_bytes()
        self._objects[index] = objects
        self.count = index + 1

    @property
    def complete(self) -> bool:
        return self.count == self.capacity

    def objects(self) -> list[int]:
        return list(self._objects[: self.count])

    def malloc_bytes(self) -> list[int]:
        return list(self._malloc[: self.count])

    def blocks_growth(self) -> int:
        """Blocks gained over the measured runs after the first."""
        return self._blocks[1] - self._blocks[0] if self.complete else 0
