"""Raw file descriptors left open: pipes, epoll instances, os.open() handles.

A descriptor nobody closes is the lowest common denominator of every leak
(a socket, a file, a selector), and the process runs out of them long before
it runs out of memory.  Linux lists them in ``/proc/self/fd``; the snapshot
is that ``listdir`` plus one ``fstat`` per descriptor (a ``readlink`` would
cost three times as much and waits for ``describe``).

The socket and file checkers read the same table and describe those
descriptors better; :func:`drop_duplicates` removes the plain ``fd`` entry
when a richer one covers the same number.  Keys embed the descriptor and its
device and inode (``fd:7:15:4711``), so that a number closed and reused for
something else counts as new.

Descriptors 0-2 are left out of the table: they are the process's standard
streams, never a test's to close, and pytest's capture ``dup2()``s other
files over them between phases (same numbers, no audit event).  Keeping them
would mean three more ``fstat`` calls per snapshot to tell that apart.
"""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Callable, Iterable

from . import sites
from .base import Resource
from .lazy_globals import multiprocessing_helpers

FD_DIR = "/proc/self/fd"
FDINFO_DIR = "/proc/self/fdinfo"
#: Kinds whose keys carry the descriptor number second, ``kind:fd:...``.
FD_OWNING_KINDS = frozenset({"socket", "file"})
#: Kinds whose key names a descriptor.
FD_KINDS = frozenset({"fd", "socket", "file"})
#: Friendly names for anonymous inodes, by readlink target.
_ANON_NAMES = {
    "anon_inode:[eventpoll]": "epoll instance",
    "anon_inode:[eventfd]": "eventfd",
    "anon_inode:[timerfd]": "timerfd",
    "anon_inode:[signalfd]": "signalfd",
    "anon_inode:inotify": "inotify instance",
    "anon_inode:[pidfd]": "pidfd",
}
#: What a descriptor is when its target cannot be read, by file type.
_TYPE_NAMES = {
    stat.S_IFIFO: "pipe",
    stat.S_IFSOCK: "socket",
    stat.S_IFREG: "file",
    stat.S_IFDIR: "directory",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    0: "anonymous inode",
}

#: (file type as in ``stat.S_IFMT``, device, inode) of one descriptor.
FdIdentity = tuple[int, int, int]


def proc_unavailable_reason() -> str | None:
    """Why descriptors cannot be listed here (not Linux, /proc not mounted)."""
    try:
        os.listdir(FD_DIR)
    except OSError as exc:
        return f"cannot list open file descriptors ({FD_DIR}: {exc.strerror})"
    return None


_shared_table: dict[int, FdIdentity] | None = None


def share_fd_table(
    table: dict[int, FdIdentity] | None = None,
) -> dict[int, FdIdentity]:
    """Read the descriptor table once for every checker in one snapshot round.

    The fd, file and socket checkers each need it; reading it three times
    per snapshot was most of what a resource check costs.  ``table``, when
    given, is a reading the caller knows to be still true (see
    ``ResourceGuard.snapshot``).  Shared until :func:`unshare_fd_table`.
    """
    global _shared_table
    _shared_table = read_table() if table is None else table
    return _shared_table


def unshare_fd_table() -> None:
    """End a snapshot round: later readings go to /proc again."""
    global _shared_table
    _shared_table = None


class TableKeys:
    """Keys built from the descriptor table, rebuilt only when the table changed.

    Most tests open and close nothing, so the three descriptor checkers
    usually answer with the frozenset of their previous call.
    """

    def __init__(
        self, build: Callable[[dict[int, FdIdentity]], frozenset[str]]
    ) -> None:
        self._build = build
        self._table: dict[int, FdIdentity] | None = None
        self._keys: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        table = _shared_table
        if table is not None and table is self._table:  # the same round's reading
            return self._keys
        table = open_fds() if table is None else table
        if table != self._table:
            self._keys = self._build(table)
        self._table = table
        return self._keys


def open_fds() -> dict[int, FdIdentity]:
    """Every open descriptor of this process, with its type and identity.

    Descriptors that vanish while listing, including the one ``listdir``
    itself used, are skipped; an unreadable ``/proc`` gives an empty table.
    Inside :func:`one_fd_table`, the table read at its start.
    """
    if _shared_table is not None:
        return dict(_shared_table)
    return read_table()


class _Reading:
    """The last full reading of the table, and what it can be recognised by
    (a plain class: a NamedTuple costs a fifth of a millisecond to define at start-up)."""

    __slots__ = ("changes", "fd_count", "names", "table")

    def __init__(
        self,
        changes: int,  # the audit hook's change count then
        fd_count: int | None,  # the descriptor count /proc reported then
        names: list[str],
        table: dict[int, FdIdentity],
    ) -> None:
        self.changes = changes
        self.fd_count = fd_count
        self.names = names
        self.table = table


_last_reading: _Reading | None = None
#: The standard streams' descriptors, left out of every table (see above).
_STD_NAMES = frozenset({"0", "1", "2"})


class _DirectoryHandle:
    """``/proc/self/fd`` held open while checking: an ``fstat`` of it costs a
    quarter of a ``stat`` of the path (no lookup of three path components).

    Opened before the first test (so it is in every snapshot), closed when
    the last session that opened it ends (pytester runs sessions inside a
    session).  A forked child forgets it (the handle shows its parent's
    table) and uses the path: told by a fork hook, not by ``os.getpid()``
    on every read, which is a system call.  The hook only empties a list
    (see :data:`_forget_in_child`).
    """

    def __init__(self) -> None:
        #: ``[descriptor]`` while open, else ``[None]``: a list, so that the
        #: fork hook can empty it without reaching this module.
        self.cell: list[int | None] = [None]
        self._users = 0

    def open(self) -> None:
        self._users += 1
        if self.cell[0] is None:
            try:
                self.cell[0] = os.open(FD_DIR, os.O_RDONLY | os.O_DIRECTORY)
            except (OSError, AttributeError):  # no /proc, no O_DIRECTORY
                self.cell[0] = None

    def close(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users:
            return
        fd, self.cell[0] = self.cell[0], None
        if fd is not None:
            os.close(fd)

    def size(self) -> int:
        fd = self.cell[0]
        if fd is not None:
            return os.fstat(fd).st_size
        return os.stat(FD_DIR).st_size


_directory = _DirectoryHandle()
#: The fork hook: C callables only.  The interpreter holds fork hooks until
#: the very end of its exit; one that reached this module's globals (a
#: bound method does, through its function) would keep the modules, and
#: through them pytest's, alive past the collection that frees them at exit
#: (about 9 M instructions more per run; see :mod:`.audit_relay`).
_forget_in_child = functools.partial(_directory.cell.__setitem__, 0, None)
if hasattr(os, "register_at_fork"):  # POSIX; registered once, at import
    os.register_at_fork(after_in_child=_forget_in_child)


def _fd_count() -> int | None:
    """How many descriptors are open, from one ``fstat``; None if not told.

    Linux 6.2 and later give the number of open descriptors as the size of
    ``/proc/self/fd``, a quarter of the cost of listing it; older kernels say 0.
    """
    try:
        return _directory.size() or None
    except OSError:
        return None


def read_table() -> dict[int, FdIdentity]:
    """The table, re-using the last one when nothing can have changed: the
    same object then, which makes it the descriptor checkers' ``signals``.

    Listing /proc is half the cost; the other half, one ``fstat`` per
    descriptor, is skipped when the audit hook saw no open, socket or spawn
    since and as many descriptors are open (the kernel's count) or the same
    numbers (the listing).  What that cannot see is code closing a descriptor
    the process had and making another without an audit event (``os.dup``,
    ``epoll``, C code): the checks that judge read afresh (see
    :func:`forget_reading`), so within one test that is a miss.  Left alone,
    the kept table would show the new descriptor as new to whichever later
    test first makes it read again: a second run that renews what its first
    run kept, or a module fixture closing its socket while its last test
    opens an eventfd, did that.  Between two clean tests it still can, when
    one test quietly replaces a descriptor another test left; the later
    test's second run then leaves no more open, and it is not reported.
    """
    global _last_reading
    last, changes, count = _last_reading, sites.changes(), _fd_count()
    if last is not None and (changes < 0 or last.changes != changes):
        last = None  # something may have opened a descriptor since
    if last is not None and count is not None and count == last.fd_count:
        return last.table
    try:
        names = os.listdir(FD_DIR)
    except OSError:
        return {}
    # Same numbers, no audit event: the same descriptors (see above).
    table = last.table if last is not None and last.names == names else _table_of(names)
    _last_reading = _Reading(changes, count, names, table)
    return table


def forget_reading() -> None:
    """Make the next reading list ``/proc`` again, whatever the count says.

    For the checks that judge (a second run, a fixture's teardown, a
    leftover being settled): a descriptor closed and another opened without
    an audit event (``select.epoll``, ``os.pipe``, ``os.eventfd``) leave the
    count as it was, and a table kept past that would show the closed one as
    still open and, once something else makes it read again, the other one
    as new: the next test's leak.
    """
    global _last_reading
    _last_reading = None


def _table_of(names: list[str]) -> dict[int, FdIdentity]:
    table = {}
    fstat, type_mask = os.fstat, 0o170000  # stat.S_IFMT() as a mask: no call
    for name in names:
        if name in _STD_NAMES:
            continue
        try:
            fd = int(name)
            info = fstat(fd)
        except (OSError, ValueError):
            continue
        table[fd] = (info.st_mode & type_mask, info.st_dev, info.st_ino)
    return table


def fd_target(fd: int) -> str | None:
    """What ``fd`` points to: ``pipe:[4711]``, ``/tmp/x``; None if unreadable."""
    try:
        return os.readlink(f"{FD_DIR}/{fd}")
    except OSError:
        return None


def fd_of(key: str) -> int | None:
    """The descriptor number in a ``kind:fd:...`` key, or None."""
    try:
        return int(key.split(":", 2)[1])
    except (IndexError, ValueError):
        return None


def fd_key(kind: str, fd: int, identity: FdIdentity | None) -> str | None:
    """``kind:<fd>:<device>:<inode>``, the key of a descriptor, or None."""
    return None if identity is None else f"{kind}:{fd}:{identity[1]}:{identity[2]}"


def fd_flags(fd: int) -> int | None:
    """The open flags of ``fd`` from /proc (``O_WRONLY`` ...), or None."""
    try:
        with open(f"{FDINFO_DIR}/{fd}", encoding="ascii") as info:
            for line in info:
                if line.startswith("flags:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


def access_mode(flags: int | None) -> str:
    """``reading``, ``writing`` or ``reading and writing`` for open flags."""
    if flags is None:
        return "unknown access"
    return {
        os.O_RDONLY: "reading",
        os.O_WRONLY: "writing",
        os.O_RDWR: "reading and writing",
    }.get(flags & os.O_ACCMODE, "unknown access")


def drop_duplicates(resources: Iterable[Resource]) -> list[Resource]:
    """Report every descriptor once, by its most telling owner.

    An ``fd`` entry whose descriptor a ``socket``/``file`` entry covers is
    dropped, and so is any fd, socket or file entry that a higher-level
    resource (an event loop, a database connection) lists in ``owned_fds``.
    Order is kept.  Call it on the combined output of all checkers.
    """
    resources = list(resources)
    owned = {fd_of(r.key) for r in resources if r.kind in FD_OWNING_KINDS}
    owned.discard(None)
    claimed = {fd for r in resources for fd in r.owned_fds}
    kept = []
    for resource in resources:
        fd = fd_of(resource.key) if resource.kind in FD_KINDS else None
        if fd is not None and (
            fd in claimed or (resource.kind == "fd" and fd in owned)
        ):
            continue
        kept.append(resource)
    return kept


def fds_open_on(path: str) -> frozenset[int]:
    """Descriptors of this process open on ``path`` (and its -wal/-journal files)."""
    wanted = {path, path + "-journal", path + "-wal", path + "-shm"}
    return frozenset(fd for fd in open_fds() if fd_target(fd) in wanted)


class FdChecker:
    """Finds raw file descriptors a test opened and did not close (Linux).

    :ivar unavailable_reason: why nothing can be found here, or None.
    """

    kind = "fd"
    #: Read by the guard instead of asking (see ResourceChecker): the table
    #: the keys are built from is the same object while nothing changed.
    signals = (read_table,)

    def __init__(self) -> None:
        self.unavailable_reason = proc_unavailable_reason()
        if self.unavailable_reason is None:
            _directory.open()
        self._keys = TableKeys(
            lambda table: frozenset(
                [f"fd:{fd}:{dev}:{ino}" for fd, (_, dev, ino) in table.items()]
            )
        )

    def snapshot(self) -> frozenset[str]:
        """``fd:<n>:<device>:<inode>`` for every open descriptor."""
        return self._keys()

    def uninstall(self) -> None:
        """Close the handle on /proc that the descriptor count is read from."""
        _directory.close()

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe the descriptors of ``keys`` that are still the same (not
        the pipes ``multiprocessing`` keeps to its process-wide helpers)."""
        table = open_fds()
        _, helpers = multiprocessing_helpers()
        found = []
        for key in sorted(keys, key=lambda k: fd_of(k) or -1):
            fd = fd_of(key)
            if fd is None or fd in helpers or key != fd_key("fd", fd, table.get(fd)):
                continue
            target = fd_target(fd) or _TYPE_NAMES.get(table[fd][0], "unknown")
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=_describe(fd, target),
                    site=_site(fd, target),
                    fingerprint=f"fd {_generic_target(target)}",
                )
            )
        return found


def _describe(fd: int, target: str) -> str:
    if target.startswith("pipe:"):
        mode = access_mode(fd_flags(fd))
        end = {"reading": "read end", "writing": "write end"}.get(mode, "end")
        return f"pipe {end} (fd {fd}, {target})"
    if target in _ANON_NAMES:
        return f"{_ANON_NAMES[target]} (fd {fd})"
    if target.startswith("/"):
        return f"fd {fd} on {target} (open for {access_mode(fd_flags(fd))})"
    return f"fd {fd} on {target}"


def _site(fd: int, target: str) -> str | None:
    if target.startswith("/"):
        return sites.site_for_path(target)
    return sites.site_for_fd(fd)


def _generic_target(target: str) -> str:
    """The target without inode numbers or directories, stable across runs."""
    if target.startswith(("pipe:", "socket:")):
        return target.split(":", 1)[0]
    if target.startswith("/dev/"):
        return target
    if target.startswith("/"):
        return os.path.basename(target.removesuffix(" (deleted)"))
    return target
