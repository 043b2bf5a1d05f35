"""Process-wide resources that libraries create once, the first time they are used.

libuv, under uvloop, opens a pipe pair the first time any event loop is
initialised (the lock of its signal handling) and keeps it until the process
exits.  Whichever test made the first loop would be blamed for two descriptors,
and every later test would pass: one-time set-up, not a leak.  So once such a
library is imported (by a conftest, a test module, an earlier test), leakguard
has it create that resource before the next snapshot.  Only imported libraries
are touched (importing uvloop and asyncio for a suite that never uses them
would cost every session), and a failure is a note, not an error.  What this
cannot cover: a library imported and first used inside one and the same test.

``multiprocessing``'s helpers are recognised instead of created ahead (starting
a resource tracker process for a suite that never needs one would be a side
effect): :func:`multiprocessing_helpers` names their processes and pipes, which
the process and descriptor checkers leave out.  So are the connections Django
keeps (:func:`framework_connections`), which the database checker leaves out.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _libuv_signal_lock_pipe() -> None:
    import uvloop

    uvloop.new_event_loop().close()


#: module name -> what makes it create its process-wide resources.
LIBRARIES: dict[str, Callable[[], None]] = {
    "uvloop": _libuv_signal_lock_pipe,
}
#: Those not yet seen imported.
_pending = dict(LIBRARIES)


def due() -> bool:
    """Whether some library of :data:`LIBRARIES` was imported but not set up.

    Asked before every test: the answer is kept while ``sys.modules`` keeps
    its size (an import adds to it).
    """
    global _due_at
    size = len(sys.modules)
    if _due_at[0] != size:
        _due_at = (size, any(name in sys.modules for name in _pending))
    return _due_at[1]


#: (len(sys.modules), due()) at the last question.
_due_at: tuple[int, bool] = (-1, False)


def create_for_imported() -> tuple[bool, list[str]]:
    """Let each newly imported library of :data:`LIBRARIES` set itself up now.

    :returns: whether any did (descriptors read before are out of date), and
        a note per library that failed to (its first user may then be blamed
        for what it creates).
    """
    global _due_at
    created, notes = False, []
    _due_at = (-1, False)
    for name in [name for name in _pending if name in sys.modules]:
        create = _pending.pop(name)
        created = True
        try:
            create()
        except Exception as exc:
            notes.append(
                f"could not let {name} create its process-wide resources "
                f"before a test: {type(exc).__name__}: {exc}"
            )
    return created, notes


def multiprocessing_helpers() -> tuple[frozenset[int], frozenset[int]]:
    """(pids, descriptors) of ``multiprocessing``'s process-wide helpers.

    The resource tracker (started for the spawn and forkserver start methods,
    named semaphores and shared memory) and the fork server are each started
    once per process, by whichever code first needs one, and kept until exit
    with a pipe to them: one-time set-up, nobody's leak.  Read from their
    private attributes; a Python that moved them only loses the exemption.
    """
    pids, fds = set(), set()
    for module, name, pid_attr, fd_attr in (
        ("multiprocessing.resource_tracker", "_resource_tracker", "_pid", "_fd"),
        (
            "multiprocessing.forkserver",
            "_forkserver",
            "_forkserver_pid",
            "_forkserver_alive_fd",
        ),
    ):
        helper = getattr(sys.modules.get(module), name, None)
        pid, fd = getattr(helper, pid_attr, None), getattr(helper, fd_attr, None)
        if isinstance(pid, int):
            pids.add(pid)
        if isinstance(fd, int):
            fds.add(fd)
    return frozenset(pids), frozenset(fds)


def framework_connections() -> list[object]:
    """The database connections a framework keeps for the calling thread.

    Django opens one connection per database alias the first time it is used
    and keeps it for the life of the thread: its test runner and pytest-django
    make the test databases through it in a session fixture, a class of
    ``TestCase`` tests holds its transaction on it, and every later test reuses
    it.  One-time set-up, however far it outlives the fixture or test that
    made Django open it.  Read with ``connections.all(initialized_only=True)``
    (Django 4.1+), which opens nothing; a connection the test makes besides
    (``connections.create_connection``, a raw ``sqlite3.connect``) is not
    among them.
    """
    handler = getattr(sys.modules.get("django.db"), "connections", None)
    if handler is None:
        return []
    try:
        wrappers = handler.all(initialized_only=True)
        return [w.connection for w in wrappers if w.connection is not None]
    except Exception:  # settings not configured, an older Django
        return []
