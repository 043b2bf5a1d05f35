"""Files (and directories) left open, by path.

``open()`` without ``with`` keeps a descriptor until the garbage collector
gets to the file object, which on CPython is usually at once but not when the
object sits in a cycle, a cache or a fixture.  Windows then refuses to delete
the file, and every platform eventually runs out of descriptors.

The snapshot reuses the descriptor table of :mod:`.fds` and keeps regular
files and directories (``file:7:<device>:<inode>``); devices such as
``/dev/null`` stay plain ``fd`` entries.  ``describe`` reads the paths.
Fingerprints replace the random parts of temporary paths with placeholders
(:func:`normalize_path`) so that ``<tmp_path>/data.db`` matches across runs
and machines.
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
from .fds import (
    TableKeys,
    access_mode,
    fd_flags,
    fd_key,
    fd_of,
    fd_target,
    open_fds,
    proc_unavailable_reason,
    read_table,
)

DELETED_SUFFIX = " (deleted)"
#: pytest's basetemp: /tmp/pytest-of-<user>/pytest-<n>/[popen-gw<n>/]<test name><n>/
_PYTEST_TMP = (  # patterns are compiled on first use (re caches them)
    r"^.*?/pytest-of-[^/]+/pytest-(?:\d+|current)/(?:popen-gw\d+/)?[^/]*?\d*(?=/|$)"
)
#: tempfile's random names: tmpa1b2c3d4, tmp_x1y2z3q4 ...
_TEMPFILE_NAME = r"(?<=/)tmp[a-z0-9_]{8}(?=/|\.|$)"


def normalize_path(path: str) -> str:
    """``path`` with per-run and per-machine parts replaced by placeholders.

    ``/tmp/pytest-of-me/pytest-12/test_save0/out.db`` -> ``<tmp_path>/out.db``,
    ``/tmp/tmpk2j4x9ab/x`` -> ``<tmp>/tmp<random>/x``, paths below the working
    directory become relative and the home directory becomes ``~``.
    """
    deleted = path.endswith(DELETED_SUFFIX)
    path = path.removesuffix(DELETED_SUFFIX)
    path = re.sub(_PYTEST_TMP, "<tmp_path>", path, count=1)
    path = re.sub(_TEMPFILE_NAME, "tmp<random>", path)
    for prefix, placeholder in _prefixes():
        if path.startswith(prefix):
            path = (
                placeholder + path[len(prefix) - 1 :]
                if placeholder
                else path[len(prefix) :]
            )
            break
    return path + DELETED_SUFFIX if deleted else path


#: File types that are files for this checker (``stat.S_IFMT`` values).
FILE_TYPES = frozenset({stat.S_IFREG, stat.S_IFDIR})


class FileChecker:
    """Finds files and directories a test opened and did not close (Linux).

    :ivar unavailable_reason: why nothing can be found here, or None.
    """

    kind = "file"
    #: Read by the guard instead of asking (see ResourceChecker): the table
    #: the keys are built from is the same object while nothing changed.
    signals = (read_table,)

    def __init__(self) -> None:
        self.unavailable_reason = proc_unavailable_reason()
        self._keys = TableKeys(
            lambda table: frozenset(
                [
                    f"file:{fd}:{dev}:{ino}"
                    for fd, (kind, dev, ino) in table.items()
                    if kind in FILE_TYPES
                ]
            )
        )

    def snapshot(self) -> frozenset[str]:
        """``file:<fd>:<device>:<inode>`` for every regular file or directory."""
        return self._keys()

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe those of ``keys`` whose descriptor is still the same file."""
        table = open_fds()
        found = []
        for key in sorted(keys, key=lambda k: fd_of(k) or -1):
            fd = fd_of(key)
            identity = table.get(fd) if fd is not None else None
            if fd is None or identity is None or key != fd_key("file", fd, identity):
                continue
            path = fd_target(fd) or "(unknown path)"
            what = "directory" if identity[0] == stat.S_IFDIR else "file"
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=f"{what} {path} open for "
                    f"{access_mode(fd_flags(fd))} (fd {fd})",
                    site=sites.site_for_path(path.removesuffix(DELETED_SUFFIX)),
                    fingerprint=f"file {normalize_path(path)}",
                )
            )
        return found


def _prefixes() -> list[tuple[str, str]]:
    """(prefix with trailing slash, placeholder) pairs, most specific first."""
    found = []
    with contextlib.suppress(OSError):
        if os.getcwd() != "/":
            found.append((os.path.join(os.getcwd(), ""), ""))
    found.append((os.path.join(tempfile.gettempdir(), ""), "<tmp>"))
    found.append((os.path.join(os.path.expanduser("~"), ""), "~"))
    return sorted(found, key=lambda pair: len(pair[0]), reverse=True)
