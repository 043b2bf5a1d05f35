"""Process-wide resources that libraries create once, the first time they are used.

libuv, under uvloop, opens a pipe pair the first time any event loop is
initialised (the lock of its signal handling) and keeps it until the process
exits.  Whichever test made the first loop would be blamed for two descriptors,
and every later test would pass: one-time set-up, not a leak.  The import may
happen inside that very test (anyio imports uvloop when its backend first asks
for it), so waiting for the module to show up is too late: when such a library
is installed, leakguard has it create the resource before the first snapshot.
Only installed libraries are touched, and a failure is a note, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec


def _libuv_signal_lock_pipe() -> None:
    import uvloop

    uvloop.new_event_loop().close()


#: (importable name, what makes it create its process-wide resources).
LIBRARIES: tuple[tuple[str, Callable[[], None]], ...] = (
    ("uvloop", _libuv_signal_lock_pipe),
)


def create_process_wide_resources() -> list[str]:
    """Let each installed library of :data:`LIBRARIES` set itself up now.

    :returns: a note per library that failed to (its first user may then be
        blamed for what it creates).
    """
    notes = []
    for name, create in LIBRARIES:
        try:
            if find_spec(name) is None:
                continue
            create()
        except Exception as exc:
            notes.append(
                f"could not let {name} create its process-wide resources "
                f"before the first test: {type(exc).__name__}: {exc}"
            )
    return notes
