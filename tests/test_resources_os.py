"""The OS-level resource checkers, against real pipes, sockets, threads and children.

Each checker gets three kinds of test: what a test leaks is found and
described with the line that created it; what is closed, joined or waited for
is not found; and what was already open before the first snapshot is never
reported.  Everything leaked on purpose is cleaned up in ``finally`` blocks,
since this suite runs with warnings as errors.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import select
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pytest_leakguard.resources import audit_relay, fds, processes, sites
from pytest_leakguard.resources.base import Resource, ResourceChecker
from pytest_leakguard.resources.databases import (
    DatabaseChecker,
    Driver,
    sqlite_trackable,
)
from pytest_leakguard.resources.fds import FdChecker, drop_duplicates
from pytest_leakguard.resources.files import FileChecker, normalize_path
from pytest_leakguard.resources.processes import ProcessChecker
from pytest_leakguard.resources.sockets import SocketChecker
from pytest_leakguard.resources.threads import ThreadChecker

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the OS checkers read Linux /proc"
)
HERE = Path(__file__).name
SLEEPER = [sys.executable, "-c", "import time; time.sleep(30)"]

SQLITE_TRACKED = sqlite_trackable()
SQLITE_UNTRACKED_REASON = (
    "Python 3.10's sqlite3 connections cannot be tracked (see databases.py)"
)


@pytest.fixture(autouse=True)
def recording() -> Iterator[None]:
    """Record creation sites around each test, as the plugin does."""
    sites.start_recording()
    yield
    sites.stop_recording()


@pytest.fixture
def thread_checker() -> Iterator[ThreadChecker]:
    """Installed as a session installs it (before 3.12 it wraps the start)."""
    checker = ThreadChecker()
    checker.install()
    yield checker
    checker.uninstall()


@pytest.fixture
def server() -> Iterator[socket.socket]:
    """A real TCP listener on loopback; it accepts in the tests that need it."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener


def next_line() -> int:
    """The line after the caller's: where the resource under test is created."""
    return sys._getframe(1).f_lineno + 1


def leaked(checker: ResourceChecker, before: frozenset[str]) -> list[Resource]:
    """What ``checker`` finds now that it did not find in ``before``."""
    return checker.describe(checker.snapshot() - before)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


# -- sites ---------------------------------------------------------------------


def test_the_audit_relay_forwards_only_the_events_asked_for() -> None:
    saved = dict(audit_relay._slot)
    seen: list[str] = []
    try:
        audit_relay.connect(lambda event, args: seen.append(event), frozenset({"open"}))
        audit_relay.relay("open", ("x",))
        audit_relay.relay("os.putenv", (b"A", b"1"))
        audit_relay.disconnect()
        audit_relay.relay("open", ("y",))
    finally:
        audit_relay._slot.update(saved)
    assert seen == ["open"]


def test_socket_site_is_the_line_that_created_it() -> None:
    line = next_line()
    sock = socket.socket()
    try:
        assert sites.site_of(sock) == f"tests/{HERE}:{line}"
        assert sites.site_record_of(sock).func == (  # type: ignore[union-attr]
            "test_socket_site_is_the_line_that_created_it"
        )
    finally:
        sock.close()


def test_what_threads_not_the_tests_create_is_marked_foreign(
    thread_checker: ThreadChecker,
) -> None:
    """The test's threads are the one recording and those it starts, down the
    line; a thread running before recording began, and whatever it starts,
    even after it ended, are someone else's."""
    made: dict[str, socket.socket] = {}
    go = threading.Event()

    def open_socket(name: str) -> None:
        made[name] = socket.socket()

    def chain(name: str) -> None:  # starts the next thread, then ends
        thread = threading.Thread(target=open_socket, args=(name,))
        thread.start()
        thread.join()

    def earlier() -> None:  # was running before recording began
        go.wait()
        open_socket("by an earlier thread")
        chain("by a thread an earlier one started")

    sites.stop_recording()  # the fixture's: this test starts its own
    early = threading.Thread(target=earlier)
    early.start()
    sites.start_recording()
    try:
        go.set()
        early.join()
        own = threading.Thread(target=chain, args=("by the test's threads",))
        own.start()
        own.join()
        open_socket("by the test")
        foreign = {name: sites.creator_of(sock)[1] for name, sock in made.items()}
    finally:
        for sock in made.values():
            sock.close()
    assert foreign == {
        "by an earlier thread": True,
        "by a thread an earlier one started": True,
        "by the test's threads": False,
        "by the test": False,
    }


def test_sites_are_forgotten_when_recording_stops() -> None:
    sites.start_recording()  # nested: the fixture's recording still runs
    with socket.socket() as sock:
        sites.stop_recording()
        assert sites.site_of(sock) is not None
    assert sites.is_recording()


def test_user_frame_site_skips_library_frames_of_a_stack_summary() -> None:
    line = next_line()
    stack = traceback.extract_stack()
    assert sites.user_frame_site(stack) == f"tests/{HERE}:{line}"
    assert sites.user_frame_site(sys._getframe()) == f"tests/{HERE}:{line + 2}"


def test_unrecorded_object_falls_back_to_tracemalloc_site() -> None:
    class Thing:
        __slots__ = ("x",)  # 3.11's tracemalloc misses objects with managed dicts

    tracemalloc.start()
    try:
        line = next_line()
        thing = Thing()
        assert sites.site_of(thing) == f"tests/{HERE}:{line}"
    finally:
        tracemalloc.stop()
    assert sites.site_of(thing) is None


def test_failing_watcher_never_breaks_the_audited_operation() -> None:
    def broken(args: tuple[object, ...]) -> None:
        raise RuntimeError("a bug in a checker")

    sites.watch("pytest_leakguard.tests.event", broken)
    sys.audit("pytest_leakguard.tests.event", 1)


def test_checkers_without_proc_say_why_and_find_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fds, "FD_DIR", "/nonexistent/fd")
    monkeypatch.setattr(processes, "PROC", "/nonexistent")
    for checker in (FdChecker(), FileChecker(), SocketChecker(), ProcessChecker()):
        assert checker.unavailable_reason is not None
        assert checker.unavailable_reason.startswith("cannot list ")
        assert checker.snapshot() == frozenset()


# -- file descriptors ----------------------------------------------------------


def test_pipe_left_open_is_reported_with_both_ends() -> None:
    checker = FdChecker()
    before = checker.snapshot()
    read_end, write_end = os.pipe()
    try:
        found = leaked(checker, before)
    finally:
        os.close(read_end)
        os.close(write_end)
    descriptions = sorted(r.description for r in found)
    assert descriptions[0].startswith(f"pipe read end (fd {read_end}, pipe:[")
    assert descriptions[1].startswith(f"pipe write end (fd {write_end}, pipe:[")
    assert {r.fingerprint for r in found} == {"fd pipe"}


def test_raw_fd_on_a_file_names_path_and_site(tmp_path: Path) -> None:
    checker = FdChecker()
    before = checker.snapshot()
    line = next_line()
    fd = os.open(tmp_path / "raw.bin", os.O_WRONLY | os.O_CREAT)
    info = os.fstat(fd)
    try:
        [found] = leaked(checker, before)
    finally:
        os.close(fd)
    assert found.description == f"fd {fd} on {tmp_path}/raw.bin (open for writing)"
    assert found.site == f"tests/{HERE}:{line}"
    assert found.key == f"fd:{fd}:{info.st_dev}:{info.st_ino}"


def test_fd_number_reused_for_something_else_counts_as_new(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    checker = FdChecker()
    before = checker.snapshot()
    os.close(read_end)
    fd = os.open(tmp_path / "raw.bin", os.O_WRONLY | os.O_CREAT)
    try:
        found = leaked(checker, before)
    finally:
        os.close(fd)
        os.close(write_end)
    assert fd == read_end  # the lowest free number is taken again
    assert [r.description for r in found] == [
        f"fd {fd} on {tmp_path}/raw.bin (open for writing)"
    ]


def test_an_unchanged_table_is_reused_and_any_change_is_read_again(
    tmp_path: Path,
) -> None:
    """The fast path: same numbers, no audit event."""
    assert sites.install()
    first = fds.open_fds()
    assert fds.open_fds() == first
    assert fds.read_table() is fds.read_table()  # no fstat round: the same table
    read_end, write_end = os.pipe()  # no audit event: the numbers tell
    try:
        assert {read_end, write_end} <= fds.open_fds().keys()
    finally:
        os.close(read_end)
        os.close(write_end)


def test_the_standard_streams_are_never_in_the_table(tmp_path: Path) -> None:
    """pytest's capture swaps what fds 0-2 are between phases: never a leak."""
    saved = os.dup(0)
    replacement = os.open(tmp_path / "stdin.txt", os.O_RDONLY | os.O_CREAT)
    checker = FdChecker()
    try:
        before = checker.snapshot()
        os.dup2(replacement, 0)  # as pytest's capture does: same number, no event
        assert leaked(checker, before) == []
        assert not {0, 1, 2} & fds.open_fds().keys()
        assert not {0, 1, 2} & fds._table_of(os.listdir(fds.FD_DIR)).keys()
    finally:
        os.dup2(saved, 0)
        os.close(saved)
        os.close(replacement)
        checker.uninstall()


@pytest.mark.parametrize("handle", [False, True], ids=["path", "held-handle"])
def test_the_kernels_descriptor_count_spares_the_listing(
    monkeypatch: pytest.MonkeyPatch, handle: bool
) -> None:
    """Linux 6.2+ tells the count as the size of /proc/self/fd: one stat
    (an fstat of a handle on it while a checker holds one)."""
    assert sites.install()
    if handle:
        checker = fds.FdChecker()  # opens the handle
        monkeypatch.setattr(os, "stat", _no_path_stat)
        close_handle = checker.uninstall
    else:
        close_handle = None
    table = fds.read_table()
    if fds._fd_count() is None:
        pytest.skip("this kernel does not report the descriptor count")

    def no_listing(path: object) -> list[str]:
        raise AssertionError("listed /proc although nothing changed")

    with monkeypatch.context() as patched:
        patched.setattr(os, "listdir", no_listing)  # fds.os is os
        assert fds.read_table() is table
    count = fds._fd_count()
    read_end, write_end = os.pipe()  # no audit event: the count tells
    try:
        assert fds._fd_count() == count + 2  # type: ignore[operator]
        assert {read_end, write_end} <= fds.read_table().keys()
    finally:
        os.close(read_end)
        os.close(write_end)
        if close_handle is not None:
            close_handle()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_counts_its_own_descriptors_not_its_parents() -> None:
    """The held handle shows the table of the process that opened it: a
    child forked meanwhile must read its own, through the path."""
    checker = fds.FdChecker()  # opens the handle
    try:
        if fds._fd_count() is None:
            pytest.skip("this kernel does not report the descriptor count")
        report_read, report_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: open two more, say what the count says
            try:
                before = fds._fd_count() or 0
                extra = os.pipe()
                grew = (fds._fd_count() or 0) - before
                os.write(report_write, str(grew).encode())
                os.close(extra[0])
                os.close(extra[1])
            finally:
                os._exit(0)
        os.close(report_write)
        with os.fdopen(report_read) as report:
            told = report.read()
        os.waitpid(pid, 0)
        assert told == "2"
    finally:
        checker.uninstall()


def _no_path_stat(path: object, *args: object, **kwargs: object) -> object:
    raise AssertionError(f"stat({path!r}) although the handle is open")


def test_change_counters_count_what_can_open_descriptors_or_processes(
    tmp_path: Path,
) -> None:
    """An in-memory database opens nothing; a file database and a child do."""
    assert sites.install()
    changes, spawns = sites.changes(), sites.spawns()
    sqlite3.connect(":memory:").close()
    assert (sites.changes(), sites.spawns()) == (changes, spawns)
    sqlite3.connect(tmp_path / "file.db").close()
    assert (sites.changes(), sites.spawns()) == (changes + 1, spawns)
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    # Popen, and on 3.13 also the os.posix_spawn it may use: at least one
    assert sites.spawns() > spawns
    assert sites.changes() > changes + 1


def test_epoll_instance_left_open_is_reported() -> None:
    checker = FdChecker()
    before = checker.snapshot()
    poller = select.epoll()
    fd = poller.fileno()
    try:
        [found] = leaked(checker, before)
    finally:
        poller.close()
    assert found.description == f"epoll instance (fd {fd})"


def test_closed_pipe_is_not_reported() -> None:
    checker = FdChecker()
    before = checker.snapshot()
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    assert leaked(checker, before) == []


def test_pipe_open_before_the_snapshot_is_not_reported() -> None:
    read_end, write_end = os.pipe()
    try:
        checker = FdChecker()
        assert leaked(checker, checker.snapshot()) == []
    finally:
        os.close(read_end)
        os.close(write_end)


def test_fd_covered_by_a_file_or_socket_entry_is_dropped(tmp_path: Path) -> None:
    checkers: list[ResourceChecker] = [FdChecker(), FileChecker(), SocketChecker()]
    before = [checker.snapshot() for checker in checkers]
    with open(tmp_path / "x.txt", "w"), socket.socket():
        found = [r for c, b in zip(checkers, before, strict=True) for r in leaked(c, b)]
        kept = drop_duplicates(found)
    assert {r.kind for r in found} == {"fd", "file", "socket"}
    assert sorted(r.kind for r in kept) == ["file", "socket"]


# -- files ---------------------------------------------------------------------


def test_file_left_open_is_reported_with_path_mode_and_site(tmp_path: Path) -> None:
    checker = FileChecker()
    before = checker.snapshot()
    line = next_line()
    handle = open(tmp_path / "data.txt", "w")  # noqa: SIM115 - leaked on purpose
    fd = handle.fileno()
    try:
        [found] = leaked(checker, before)
    finally:
        handle.close()
    assert found.description == f"file {tmp_path}/data.txt open for writing (fd {fd})"
    assert found.site == f"tests/{HERE}:{line}"
    assert found.fingerprint == "file <tmp_path>/data.txt"


def test_file_closed_by_with_is_not_reported(tmp_path: Path) -> None:
    checker = FileChecker()
    before = checker.snapshot()
    with open(tmp_path / "data.txt", "w") as handle:
        handle.write("x")
    assert leaked(checker, before) == []


def test_file_open_before_the_snapshot_is_not_reported(tmp_path: Path) -> None:
    with open(tmp_path / "data.txt", "w"):
        checker = FileChecker()
        assert leaked(checker, checker.snapshot()) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/tmp/pytest-of-ann/pytest-12/test_save0/out.db", "<tmp_path>/out.db"),
        ("/tmp/pytest-of-ann/pytest-3/popen-gw1/test_a0/x", "<tmp_path>/x"),
        (
            "/tmp/pytest-of-ann/pytest-3/data1/sub/x (deleted)",
            "<tmp_path>/sub/x (deleted)",
        ),
        ("/var/empty/tmpk2j4x9ab/x.log", "/var/empty/tmp<random>/x.log"),
        ("/srv/data.csv", "/srv/data.csv"),
    ],
)
def test_normalized_path_drops_the_parts_that_change_between_runs(
    path: str, expected: str
) -> None:
    assert normalize_path(path) == expected


# -- sockets -------------------------------------------------------------------


def test_client_connection_left_open_is_reported_as_established(
    server: socket.socket,
) -> None:
    checker = SocketChecker()
    before = checker.snapshot()
    port = server.getsockname()[1]
    line = next_line()
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    try:
        found = leaked(checker, before)
        local_port = client.getsockname()[1]
    finally:
        client.close()
        accepted.close()
    by_site = {r.site: r for r in found}
    mine = by_site[f"tests/{HERE}:{line}"]
    assert mine.description == (
        f"socket 127.0.0.1:{local_port} -> 127.0.0.1:{port} (ESTABLISHED)"
    )
    assert mine.fingerprint == "socket tcp -> 127.0.0.1:*"  # ephemeral port
    assert by_site[f"tests/{HERE}:{line + 1}"].description.endswith("(ESTABLISHED)")


def test_listener_left_open_is_reported_as_listening() -> None:
    checker = SocketChecker()
    before = checker.snapshot()
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        [found] = leaked(checker, before)
        port = listener.getsockname()[1]
    finally:
        listener.close()
    assert found.description == f"socket listening on 127.0.0.1:{port}"
    assert found.fingerprint == "socket tcp listening on 127.0.0.1:*"


def test_unix_socketpair_and_udp_socket_left_open_are_reported() -> None:
    checker = SocketChecker()
    before = checker.snapshot()
    left, right = socket.socketpair()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        found = sorted(r.description for r in leaked(checker, before))
        port = udp.getsockname()[1]
    finally:
        for sock in (left, right, udp):
            sock.close()
    assert found == [
        f"udp socket bound to 127.0.0.1:{port}",
        "unix socket (unnamed) (connected)",
        "unix socket (unnamed) (connected)",
    ]


def test_closed_client_connection_is_not_reported(server: socket.socket) -> None:
    checker = SocketChecker()
    before = checker.snapshot()
    with socket.create_connection(server.getsockname()):
        accepted, _ = server.accept()
        accepted.close()
    assert leaked(checker, before) == []


def test_listener_open_before_the_snapshot_is_not_reported(
    server: socket.socket,
) -> None:
    checker = SocketChecker()
    assert leaked(checker, checker.snapshot()) == []


# -- threads -------------------------------------------------------------------


def _serve_until(stop: threading.Event) -> None:
    stop.wait()


def test_running_thread_is_reported_with_where_it_runs_and_started(
    thread_checker: ThreadChecker,
) -> None:
    checker = thread_checker
    before = checker.snapshot()
    stop = threading.Event()
    thread = threading.Thread(target=_serve_until, args=(stop,), name="poller")
    line = next_line()
    thread.start()
    try:
        [found] = leaked(checker, before)
    finally:
        stop.set()
        thread.join()
    running_line = _serve_until.__code__.co_firstlineno + 1
    assert found.description == (
        f"Thread 'poller' (daemon=False) running at tests/{HERE}:{running_line}"
        " in _serve_until() -> wait()"
    )
    assert found.site == f"tests/{HERE}:{line}"
    assert found.fingerprint == "thread Thread 'poller'"


def test_thread_keys_follow_starts_and_ends_and_not_renames(
    thread_checker: ThreadChecker,
) -> None:
    checker = thread_checker
    first = checker.snapshot()
    assert checker.snapshot() is first  # nothing changed: the same keys
    stop = threading.Event()
    thread = threading.Thread(target=_serve_until, args=(stop,), name="before")
    thread.start()
    try:
        started = checker.snapshot()
        thread.name = "after"  # the same thread: not a new one
        renamed = checker.snapshot()
    finally:
        stop.set()
        thread.join()
    assert [key.rpartition(":")[2] for key in started - first] == ["before"]
    assert renamed == started
    assert checker.snapshot() == first  # ended: gone again


def test_joined_thread_is_not_reported() -> None:
    checker = ThreadChecker()
    before = checker.snapshot()
    thread = threading.Thread(target=time.sleep, args=(0.01,))
    thread.start()
    thread.join()
    assert leaked(checker, before) == []


def test_thread_started_before_the_snapshot_is_not_reported() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=_serve_until, args=(stop,))
    thread.start()
    try:
        checker = ThreadChecker()
        assert leaked(checker, checker.snapshot()) == []
    finally:
        stop.set()
        thread.join()


# -- processes -----------------------------------------------------------------


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rpartition(")")[2].split()[0]


def test_running_child_process_is_reported_with_command_and_site() -> None:
    checker = ProcessChecker()
    before = checker.snapshot()
    line = next_line()
    child = subprocess.Popen(SLEEPER)
    try:
        [found] = leaked(checker, before)
    finally:
        child.kill()
        child.wait()
    assert found.description.startswith(f"child process {sys.executable} -c ")
    assert f"(pid {child.pid}, " in found.description
    assert found.site == f"tests/{HERE}:{line}"
    assert found.fingerprint == f"process {os.path.basename(sys.executable)}"


def test_exited_child_never_waited_for_is_reported_as_zombie() -> None:
    checker = ProcessChecker()
    before = checker.snapshot()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        wait_until(lambda: _state(child.pid) == "Z")
        [found] = leaked(checker, before)
    finally:
        child.wait()
    assert found.description.startswith("zombie process ")
    assert found.description.endswith(
        f"(pid {child.pid}) exited but was never waited for"
    )


def test_multiprocessing_process_and_pool_workers_are_children() -> None:
    checker = ProcessChecker()
    context = multiprocessing.get_context("fork")
    before = checker.snapshot()
    line = next_line()
    process = context.Process(target=time.sleep, args=(30,))
    process.start()
    pool = context.Pool(2)
    try:
        found = leaked(checker, before)
    finally:
        process.terminate()
        process.join()
        pool.terminate()
        pool.join()
    by_pid = {int(r.key.split(":")[1]): r for r in found}
    assert len(by_pid) == 3
    mine = by_pid[process.pid or 0]
    assert mine.description.startswith(
        f"child multiprocessing process '{process.name}'"
    )
    assert mine.site == f"tests/{HERE}:{line + 1}"
    assert mine.fingerprint == "process multiprocessing 'ForkProcess-N'"
    assert {r.site for r in found} == {mine.site, f"tests/{HERE}:{line + 2}"}


def test_child_waited_for_is_not_reported() -> None:
    checker = ProcessChecker()
    before = checker.snapshot()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert leaked(checker, before) == []


def test_child_started_before_the_snapshot_is_not_reported() -> None:
    with subprocess.Popen(SLEEPER) as child:
        try:
            checker = ProcessChecker()
            assert leaked(checker, checker.snapshot()) == []
        finally:
            child.kill()


# -- database connections ------------------------------------------------------


@pytest.mark.skipif(not SQLITE_TRACKED, reason=SQLITE_UNTRACKED_REASON)
def test_sqlite_connections_left_open_are_reported(tmp_path: Path) -> None:
    checker = DatabaseChecker()
    before = checker.snapshot()
    line = next_line()
    on_disk = sqlite3.connect(tmp_path / "app.db")
    in_memory = sqlite3.connect(":memory:")
    try:
        found = sorted(leaked(checker, before), key=lambda r: r.site or "")
    finally:
        on_disk.close()
        in_memory.close()
    assert [r.description for r in found] == [
        f"sqlite3 connection to {tmp_path}/app.db",
        "sqlite3 connection to :memory:",
    ]
    assert [r.site for r in found] == [
        f"tests/{HERE}:{line}",
        f"tests/{HERE}:{line + 1}",
    ]
    assert found[0].fingerprint == "db-connection sqlite3 <tmp_path>/app.db"


def test_closed_or_collected_sqlite_connections_are_not_reported(
    tmp_path: Path,
) -> None:
    checker = DatabaseChecker()
    before = checker.snapshot()
    sqlite3.connect(tmp_path / "app.db").close()
    with sqlite3.connect(":memory:") as conn:  # commits, does not close
        conn.execute("select 1")
    conn.close()
    assert leaked(checker, before) == []


def test_sqlite_connection_open_before_the_snapshot_is_not_reported() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        checker = DatabaseChecker()
        assert leaked(checker, checker.snapshot()) == []
    finally:
        conn.close()


class _FakeConnection:
    closed = False


def test_other_drivers_plug_in_with_an_is_open_test() -> None:
    checker = DatabaseChecker(
        drivers=[Driver("fakedb", is_open=lambda conn: not conn.closed)]
    )
    before = checker.snapshot()
    conn = _FakeConnection()
    line = next_line()
    checker.track(conn, "fakedb", "fake://db")
    [found] = leaked(checker, before)
    assert found.description == "fakedb connection to fake://db"
    assert found.site == f"tests/{HERE}:{line}"
    conn.closed = True
    assert leaked(checker, before) == []
    del conn
    gc.collect()
    assert checker.snapshot() == before


class _IdleWorker:
    """Stands for trio's WorkerThread: same module and class name, a real thread."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def _work(self) -> None:
        self.stop.wait()


_IdleWorker.__module__ = "trio._core._thread_cache"
_IdleWorker.__qualname__ = "WorkerThread"


def test_idle_workers_of_a_process_wide_thread_cache_are_not_reported(
    thread_checker: ThreadChecker,
) -> None:
    """trio.to_thread keeps idle workers 10 s for reuse: a bounded pool."""
    checker = thread_checker
    before = checker.snapshot()
    worker = _IdleWorker()
    thread = threading.Thread(target=worker._work, name="Trio thread 0", daemon=True)
    thread.start()
    try:
        found = leaked(checker, before)
    finally:
        worker.stop.set()
        thread.join()
    assert found == []
