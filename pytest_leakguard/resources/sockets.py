"""Sockets left open: listeners, client connections, UDP and Unix sockets.

A server fixture that never closes its listener keeps the port busy for the
next test; a client that never closes its connection exhausts the server's
pool.  The snapshot only reads the descriptor table of :mod:`.fds` (sockets
and their inodes).  ``describe`` then looks the inodes up in
``/proc/self/net/{tcp,tcp6,udp,udp6,unix}`` for addresses and TCP states.

Fingerprints keep what is stable across runs and machines: the protocol, the
direction, loopback and wildcard addresses, and only ports outside the
kernel's ephemeral range (``6379`` is a service; ``51234`` is whatever
``bind(0)`` or ``connect`` got this time).  Other hosts become ``<host>``.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import stat
import struct
from collections.abc import Iterable

from . import sites
from .base import Resource
from .fds import TableKeys, fd_of, open_fds, proc_unavailable_reason, read_table
from .files import normalize_path

NET_DIR = "/proc/self/net"
_TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}  # fmt: skip
_UNIX_STATES = {"01": "unconnected", "02": "connecting", "03": "connected"}
_UNIX_ACCEPTCON = 0x10000  # __SO_ACCEPTCON in the Flags column: listening
_DEFAULT_EPHEMERAL = (32768, 60999)


# Plain classes: a NamedTuple costs a fifth of a millisecond to define at start-up.


def socket_key(fd: int, inode: int | str) -> str:
    """``socket:<fd>:<inode>``, the key of a socket descriptor."""
    return f"socket:{fd}:{inode}"


class _Endpoint:
    __slots__ = ("host", "port")

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __repr__(self) -> str:
        return f"_Endpoint({self.host!r}, {self.port!r})"


class _InetSocket:
    __slots__ = ("proto", "local", "remote", "state")

    def __init__(
        self, proto: str, local: _Endpoint, remote: _Endpoint | None, state: str
    ) -> None:
        self.proto = proto  # tcp, udp
        self.local = local
        self.remote = remote
        self.state = state


class _UnixSocket:
    __slots__ = ("path", "state", "listening")

    def __init__(self, path: str, state: str, listening: bool) -> None:
        self.path = path
        self.state = state
        self.listening = listening


class SocketChecker:
    """Finds sockets a test opened and did not close (Linux).

    :ivar unavailable_reason: why nothing can be found here, or None.
    """

    kind = "socket"
    #: Read by the guard instead of asking (see ResourceChecker): the table
    #: the keys are built from is the same object while nothing changed.
    signals = (read_table,)

    def __init__(self) -> None:
        self.unavailable_reason = proc_unavailable_reason()
        self._keys = TableKeys(
            lambda table: frozenset(
                [
                    socket_key(fd, ino)
                    for fd, (kind, _, ino) in table.items()
                    if kind == stat.S_IFSOCK
                ]
            )
        )

    def snapshot(self) -> frozenset[str]:
        """``socket:<fd>:<inode>`` for every socket descriptor."""
        return self._keys()

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Describe those of ``keys`` whose descriptor is still the same socket."""
        table = open_fds()
        alive = {}  # key -> (fd, inode) of the sockets still open
        for key in keys:
            fd = fd_of(key)
            inode = str(table[fd][2]) if fd in table else ""
            if fd is not None and key == socket_key(fd, inode):
                alive[key] = (fd, inode)
        info = _lookup_inodes({inode for _, inode in alive.values()})
        found = []
        for key, (fd, inode) in sorted(alive.items(), key=lambda item: item[1]):
            description, fingerprint = _format(info.get(inode), fd)
            thread, foreign = sites.creator_for_fd(fd)
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=description,
                    site=sites.site_for_fd(fd),
                    fingerprint=fingerprint,
                    thread=thread,
                    foreign=foreign,
                )
            )
        return found


def _format(entry: _InetSocket | _UnixSocket | None, fd: int) -> tuple[str, str]:
    """(description, fingerprint) for one socket."""
    if isinstance(entry, _UnixSocket):
        path = entry.path or "(unnamed)"
        if entry.listening:
            return f"unix socket listening on {path}", (
                f"socket unix listening on {normalize_path(path)}"
            )
        generic = normalize_path(path) if entry.path else path
        return f"unix socket {path} ({entry.state})", f"socket unix {generic}"
    if isinstance(entry, _InetSocket):
        return _format_inet(entry)
    return _format_unknown(fd)


def _format_inet(entry: _InetSocket) -> tuple[str, str]:
    prefix = "socket" if entry.proto == "tcp" else "udp socket"
    generic = f"socket {entry.proto}"
    if entry.state == "LISTEN":
        return f"socket listening on {entry.local}", (
            f"{generic} listening on {_stable(entry.local)}"
        )
    if entry.remote is None:
        return (
            f"{prefix} bound to {entry.local}",
            f"{generic} on {_stable(entry.local)}",
        )
    text = f"{prefix} {entry.local} -> {entry.remote}"
    if entry.proto == "tcp":
        text += f" ({entry.state})"
    return text, f"{generic} -> {_stable(entry.remote)}"


def _format_unknown(fd: int) -> tuple[str, str]:
    """Neither bound nor connected (or not IP/Unix): ask the Python object."""
    for sock in sites.recorded("socket"):
        if isinstance(sock, socket.socket) and sock.fileno() == fd:
            family = getattr(sock.family, "name", sock.family)
            kind = getattr(sock.type, "name", sock.type)
            return (
                f"socket {family}/{kind}, not bound or connected (fd {fd})",
                f"socket {family}/{kind}",
            )
    return f"socket (fd {fd})", "socket"


def _stable(endpoint: _Endpoint) -> str:
    try:
        address = ipaddress.ip_address(endpoint.host)
    except ValueError:
        host = "<host>"
    else:
        keep = address.is_loopback or address.is_unspecified
        host = str(endpoint).rsplit(":", 1)[0] if keep else "<host>"
    low, high = _ephemeral_range()
    port = "*" if endpoint.port == 0 or low <= endpoint.port <= high else endpoint.port
    return f"{host}:{port}"


@functools.cache
def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            low, high = (int(part) for part in f.read().split())
    except (OSError, ValueError):
        return _DEFAULT_EPHEMERAL
    return low, high


def _lookup_inodes(inodes: set[str]) -> dict[str, _InetSocket | _UnixSocket]:
    """Parse the kernel's socket tables for ``inodes`` only."""
    found: dict[str, _InetSocket | _UnixSocket] = {}
    for table, v6 in (("tcp", False), ("tcp6", True), ("udp", False), ("udp6", True)):
        if len(found) == len(inodes):
            return found
        for fields in _rows(table):
            if len(fields) > 9 and fields[9] in inodes:
                with contextlib.suppress(ValueError, struct.error):  # unparsable
                    found[fields[9]] = _parse_inet(table.rstrip("6"), fields, v6)
    if len(found) < len(inodes):
        for fields in _rows("unix"):
            if len(fields) > 6 and fields[6] in inodes:
                with contextlib.suppress(ValueError):
                    found[fields[6]] = _UnixSocket(
                        path=fields[7] if len(fields) > 7 else "",
                        state=_UNIX_STATES.get(fields[5], fields[5]),
                        listening=bool(int(fields[3], 16) & _UNIX_ACCEPTCON),
                    )
    return found


def _rows(table: str) -> list[list[str]]:
    try:
        with open(f"{NET_DIR}/{table}", encoding="ascii", errors="replace") as f:
            return [line.split() for line in f.readlines()[1:]]
    except OSError:
        return []


def _parse_inet(proto: str, fields: list[str], v6: bool) -> _InetSocket:
    local, remote = _endpoint(fields[1], v6), _endpoint(fields[2], v6)
    connected = remote.port != 0
    return _InetSocket(
        proto=proto,
        local=local,
        remote=remote if connected else None,
        state=_TCP_STATES.get(fields[3], fields[3]),
    )


def _endpoint(text: str, v6: bool) -> _Endpoint:
    """``0100007F:1F90`` (words in host byte order) -> 127.0.0.1:8080."""
    hex_host, hex_port = text.split(":")
    words = [int(hex_host[i : i + 8], 16) for i in range(0, len(hex_host), 8)]
    packed = struct.pack(f"={len(words)}I", *words)
    host = socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, packed)
    if v6 and host.startswith("::ffff:") and "." in host:
        host = host[7:]  # an IPv4 peer on a dual-stack socket
    return _Endpoint(host, int(hex_port, 16))
