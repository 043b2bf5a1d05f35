"""Raw file descriptors left open: pipes, epoll instances, os.open() handles.

A descriptor nobody closes is the lowest common denominator of every leak
(a socket, a file, a selector), and the process runs out of them long before
it runs out of memory.  Linux lists them in ``/proc/self/fd``: one
``listdir`` plus one ``readlink`` per descriptor, a few microseconds in all.

The socket and file checkers read the same table and describe those
descriptors better; :func:`drop_duplicates` removes the plain ``fd`` entry
when a richer one covers the same number.  Keys embed the descriptor and its
target (``fd:7:pipe:[4711]``) so that a number closed and reused for
something else counts as new.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from . import sites
from .base import Resource

FD_DIR = "/proc/self/fd"
FDINFO_DIR = "/proc/self/fdinfo"
#: Seconds one reading of the table may be shared; see :func:`read_fd_table`.
SHARE_WINDOW = 0.0005
#: Kinds whose keys carry the descriptor number second, ``kind:fd:...``.
FD_OWNING_KINDS = frozenset({"socket", "file"})
#: Friendly names for anonymous inodes, by readlink target.
_ANON_NAMES = {
    "anon_inode:[eventpoll]": "epoll instance",
    "anon_inode:[eventfd]": "eventfd",
    "anon_inode:[timerfd]": "timerfd",
    "anon_inode:[signalfd]": "signalfd",
    "anon_inode:inotify": "inotify instance",
    "anon_inode:[pidfd]": "pidfd",
}
_last: tuple[float, int, frozenset[str], dict[int, str]] | None = None


def proc_unavailable_reason() -> str | None:
    """Why descriptors cannot be listed here (not Linux, /proc not mounted)."""
    try:
        os.listdir(FD_DIR)
    except OSError as exc:
        return f"cannot list open file descriptors ({FD_DIR}: {exc.strerror})"
    return None


def read_fd_table(reuse_within: float = SHARE_WINDOW) -> dict[int, str]:
    """Every open descriptor of this process and its ``readlink`` target.

    Descriptors that vanish while listing, including the one ``listdir``
    itself used, are skipped; an unreadable ``/proc`` gives an empty table.
    The previous table is returned again (do not modify it) when it is at
    most ``reuse_within`` seconds old and the same descriptor numbers are open:
    the fd, file and socket checkers snapshot back to back, and one
    ``readlink`` per descriptor is most of the cost.
    """
    global _last
    try:
        names = os.listdir(FD_DIR)
    except OSError:
        return {}
    now, pid, numbers = time.perf_counter(), os.getpid(), frozenset(names)
    last = _last
    if last and now - last[0] < reuse_within and last[1:3] == (pid, numbers):
        return last[3]
    table = {}
    readlink = os.readlink
    for name in names:
        try:
            table[int(name)] = readlink(f"{FD_DIR}/{name}")
        except (OSError, ValueError):
            continue
    _last = (now, pid, numbers, table)
    return table


def fd_of(key: str) -> int | None:
    """The descriptor number in a ``kind:fd:...`` key, or None."""
    try:
        return int(key.split(":", 2)[1])
    except (IndexError, ValueError):
        return None


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
    """Drop ``fd`` entries whose descriptor a ``socket``/``file`` entry covers.

    Order is kept.  Call it on the combined output of all checkers.
    """
    resources = list(resources)
    owned = {fd_of(r.key) for r in resources if r.kind in FD_OWNING_KINDS}
    owned.discard(None)
    return [r for r in resources if not (r.kind == "fd" and fd_of(r.key) in owned)]


class FdChecker:
    """Finds raw file descriptors a test opened and did not close (Linux).

    :ivar unavailable_reason: why nothing can be found here, or None.
    """

    kind = "fd"

    def __init__(self) -> None:
        self.unavailable_reason = proc_unavailable_reason()

    def snapshot(self) -> frozenset[str]:
        """``fd:<n>:<target>`` for every open descriptor."""
        return frozenset(
            [f"fd:{fd}:{target}" for fd, target in read_fd_table().items()]
        )

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe the descriptors of ``keys`` that still point where they did."""
        table = read_fd_table(reuse_within=0)
        found = []
        for key in sorted(keys, key=lambda k: fd_of(k) or -1):
            fd = fd_of(key)
            if fd is None or key != f"fd:{fd}:{table.get(fd)}":
                continue
            target = table[fd]
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
