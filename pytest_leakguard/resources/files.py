"""Files (and directories) left open, by path.

``open()`` without ``with`` keeps a descriptor until the garbage collector
gets to the file object, which on CPython is usually at once but not when the
object sits in a cycle, a cache or a fixture.  Windows then refuses to delete
the file, and every platform eventually runs out of descriptors.

The snapshot reuses the descriptor table of :mod:`.fds` and keeps the entries
pointing into the file system (``file:7:/tmp/x``); ``/dev`` nodes other than
``/dev/shm`` stay plain ``fd`` entries.  Fingerprints replace the random parts
of temporary paths with placeholders (:func:`normalize_path`) so that
``<tmp_path>/data.db`` matches across runs and machines.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterable

from . import sites
from .base import Resource
from .fds import access_mode, fd_flags, fd_of, proc_unavailable_reason, read_fd_table

DELETED_SUFFIX = " (deleted)"
#: pytest's basetemp: /tmp/pytest-of-<user>/pytest-<n>/[popen-gw<n>/]<test name><n>/
_PYTEST_TMP = re.compile(
    r"^.*?/pytest-of-[^/]+/pytest-(?:\d+|current)/(?:popen-gw\d+/)?[^/]*?\d*(?=/|$)"
)
#: tempfile's random names: tmpa1b2c3d4, tmp_x1y2z3q4 ...
_TEMPFILE_NAME = re.compile(r"(?<=/)tmp[a-z0-9_]{8}(?=/|\.|$)")


def normalize_path(path: str) -> str:
    """``path`` with per-run and per-machine parts replaced by placeholders.

    ``/tmp/pytest-of-me/pytest-12/test_save0/out.db`` -> ``<tmp_path>/out.db``,
    ``/tmp/tmpk2j4x9ab/x`` -> ``<tmp>/tmp<random>/x``, paths below the working
    directory become relative and the home directory becomes ``~``.
    """
    deleted = path.endswith(DELETED_SUFFIX)
    path = path.removesuffix(DELETED_SUFFIX)
    path = _PYTEST_TMP.sub("<tmp_path>", path, count=1)
    path = _TEMPFILE_NAME.sub("tmp<random>", path)
    for prefix, placeholder in _prefixes():
        if path.startswith(prefix):
            path = (
                placeholder + path[len(prefix) - 1 :]
                if placeholder
                else path[len(prefix) :]
            )
            break
    return path + DELETED_SUFFIX if deleted else path


def is_file_target(target: str) -> bool:
    """Whether a ``readlink`` target of a descriptor is a file-system path."""
    return target.startswith("/") and (
        not target.startswith("/dev/") or target.startswith("/dev/shm/")
    )


class FileChecker:
    """Finds files and directories a test opened and did not close (Linux).

    :ivar unavailable_reason: why nothing can be found here, or None.
    """

    kind = "file"

    def __init__(self) -> None:
        self.unavailable_reason = proc_unavailable_reason()

    def snapshot(self) -> frozenset[str]:
        """``file:<fd>:<path>`` for every descriptor on a path."""
        return frozenset(
            [
                f"file:{fd}:{target}"
                for fd, target in read_fd_table().items()
                if is_file_target(target)
            ]
        )

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe those of ``keys`` whose descriptor still names the same path."""
        table = read_fd_table(reuse_within=0)
        found = []
        for key in sorted(keys, key=lambda k: fd_of(k) or -1):
            fd = fd_of(key)
            if fd is None or key != f"file:{fd}:{table.get(fd)}":
                continue
            path = table[fd]
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=_describe(fd, path),
                    site=sites.site_for_path(path.removesuffix(DELETED_SUFFIX)),
                    fingerprint=f"file {normalize_path(path)}",
                )
            )
        return found


def _describe(fd: int, path: str) -> str:
    what = "file"
    try:
        if stat.S_ISDIR(os.stat(f"/proc/self/fd/{fd}").st_mode):
            what = "directory"
    except OSError:
        pass
    return f"{what} {path} open for {access_mode(fd_flags(fd))} (fd {fd})"


def _prefixes() -> list[tuple[str, str]]:
    """(prefix with trailing slash, placeholder) pairs, most specific first."""
    found = []
    with contextlib.suppress(OSError):
        if os.getcwd() != "/":
            found.append((os.path.join(os.getcwd(), ""), ""))
    found.append((os.path.join(tempfile.gettempdir(), ""), "<tmp>"))
    found.append((os.path.join(os.path.expanduser("~"), ""), "~"))
    return sorted(found, key=lambda pair: len(pair[0]), reverse=True)
