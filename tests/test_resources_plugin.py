"""Resource checks end to end: real sockets, servers, Redis, fixtures, hooks."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator

import pytest

from pytest_leakguard.resources.databases import sqlite_trackable

from .services import redis_server

SERVER_AND_CLIENTS = """
    import socket, threading, pytest

    @pytest.fixture(scope="module")
    def server():
        listener = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()

        def serve():
            listener.settimeout(0.05)
            conns = []
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                    conns.append(conn)
                except OSError:
                    pass
            for conn in conns:
                conn.close()

        thread = threading.Thread(target=serve, name="test-server")
        thread.start()
        yield listener.getsockname()
        stop.set()
        thread.join()
        listener.close()

    kept = []

    def test_connection_left_open(server):
        kept.append(socket.create_connection(server))

    def test_connection_closed(server):
        with socket.create_connection(server) as conn:
            conn.sendall(b"ping")

    def test_thread_that_finishes_a_moment_late():
        threading.Thread(target=__import__("time").sleep, args=(0.05,)).start()
"""

SQLITE_TRACKED = sqlite_trackable()


def test_socket_left_open_is_a_leak_and_a_module_server_fixture_is_not(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(SERVER_AND_CLIENTS)

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "LEAKED 1 socket left open",
            "Left open:",
            "  socket: socket 127.0.0.1:* -> 127.0.0.1:* (ESTABLISHED)  (created at *.py:3?)",
            "LEAKED *::test_connection_left_open - 1 socket left open",
        ]
    )
    result.stdout.no_fnmatch_line("*thread*left open*")


RESTARTING_WATCHER = """
    import subprocess, sys, threading, time

    CHILD = [sys.executable, "-c", "import time; time.sleep(0.5)"]

    def restart(times):
        # As watchdog's AutoRestartTrick: one watcher thread per child, which
        # starts the next child, and its watcher, when the child exits, then ends.
        child = subprocess.Popen(CHILD)

        def watch():
            child.wait()
            if times:
                restart(times - 1)

        threading.Thread(target=watch, name="watcher", daemon=True).start()

    def test_leaves_a_restarting_child():
        restart(5)

    def test_innocent_first():
        time.sleep(1.2)

    def test_innocent_second():
        time.sleep(1.2)
"""


def test_what_a_watcher_left_by_an_earlier_test_starts_is_not_a_later_tests_leak(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Children and threads started during a test by a thread that was running
    before it began (or by one that thread started) are that thread's, even
    once the thread has ended: the test that left the watcher is reported."""
    leakguard_pytester.makepyfile(RESTARTING_WATCHER)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "--leakguard-settle-time=0.2",
        "--leakguard-json=out.json",
        "-p",
        "no:randomly",
    )

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "LEAKED 1 process, 1 thread left open",
            "*Thread 'watcher' (daemon=True)*",
            "*child process * -c 'import time; time.sleep(0.5)'*",
            "LEAKED *::test_leaves_a_restarting_child - 1 process, 1 thread left open",
        ]
    )
    tests = json.loads((leakguard_pytester.path / "out.json").read_text())["tests"]
    assert [t["nodeid"].split("::")[1] for t in tests if t["leaked"]] == [
        "test_leaves_a_restarting_child"
    ]


MULTIPROCESSING_CHILDREN = """
    import multiprocessing, time

    def sleeper():
        time.sleep(3)

    def test_a_spawn_lock_starts_the_resource_tracker():
        multiprocessing.get_context("spawn").Lock()

    def test_spawned_child_left_running():
        multiprocessing.get_context("spawn").Process(target=sleeper).start()

    def test_forked_child_waited_for():
        child = multiprocessing.get_context("fork").Process(target=time.sleep, args=(0,))
        child.start()
        child.join()
        child.close()
"""


def test_spawned_children_are_their_tests_and_the_resource_tracker_nobodys(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """multiprocessing's spawn start method raises no audit event: its child is
    still found in the test that left it (not in the next test that forks), and
    the resource tracker it starts once per process is nobody's leak."""
    leakguard_pytester.makepyfile(MULTIPROCESSING_CHILDREN)

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*process: child multiprocessing process 'SpawnProcess-1' (pid *)  (created at *.py:1?)",
            "LEAKED *::test_spawned_child_left_running - 2 fd, 1 process left open",
        ]
    )
    result.stdout.no_fnmatch_line("LEAKED *test_forked_child_waited_for*")
    result.stdout.no_fnmatch_line("*multiprocessing.resource_tracker import main*")


def test_uvloops_process_wide_pipe_is_nobodys_leak_but_a_pipe_left_open_is(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """libuv opens its signal lock pipe with the first loop of the process;
    uvloop imported by the test module, as anyio's conftest does (F5 in
    FINDINGS.md)."""
    pytest.importorskip("uvloop")
    leakguard_pytester.makepyfile(
        """
        import asyncio, os
        import uvloop

        kept = []

        def one_loop():
            loop = uvloop.new_event_loop()
            try:
                loop.run_until_complete(asyncio.sleep(0))
            finally:
                loop.close()

        def test_first_loop():
            one_loop()

        def test_second_loop():
            one_loop()

        def test_loop_and_a_pipe_left_open():
            one_loop()
            kept.append(os.pipe())
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["LEAKED *::test_loop_and_a_pipe_left_open - 2 fd left open"]
    )


def test_fixture_that_does_not_release_what_it_opened_is_reported_with_its_name(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(
        """
        import logging, pytest

        @pytest.fixture(scope="module")
        def noisy_logging():
            logging.getLogger("app.audit").addHandler(logging.NullHandler())
            yield

        def test_uses_it(noisy_logging):
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*fixture noisy_logging (module scope) left open: logging handler NullHandler* on logger 'app.audit'*"
        ]
    )


LEFTOVERS = """
    import asyncio, atexit, logging, os, signal, sqlite3, subprocess, sys, threading

    kept = []  # one more per call: each test is a leak, however often it runs

    def test_pipe(): kept.append(os.pipe())
    def test_file(tmp_path): kept.append(open(tmp_path / "data.txt", "w"))
    def test_sqlite(tmp_path): kept.append(sqlite3.connect(tmp_path / "app.db"))
    def test_thread():
        ev = threading.Event(); kept.append(ev)
        threading.Thread(target=ev.wait, name="poller", daemon=True).start()
    def test_process():
        kept.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
    def test_loop(): kept.append(asyncio.new_event_loop())
    def test_handler(): logging.getLogger("app.requests").addHandler(logging.NullHandler())
    def test_signal(): signal.signal(signal.SIGUSR1, lambda *a: None)
    def test_atexit(): atexit.register(print, "bye")
    def test_excepthook(): sys.excepthook = lambda *a: None
"""


def test_each_kind_of_leftover_is_reported_with_its_kind_in_json(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(LEFTOVERS)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "--leakguard-json=out.json",
        "--leakguard-settle-time=0.1",
        "-p",
        "no:randomly",
    )

    result.assert_outcomes(failed=10)
    document = json.loads((leakguard_pytester.path / "out.json").read_text())
    kinds = {
        t["nodeid"].split("::")[1]: sorted({leak["kind"] for leak in t["leaks"]})
        for t in document["tests"]
    }
    assert kinds == {
        "test_pipe": ["fd"],
        "test_file": ["file"],
        # 3.10's sqlite3.Connection cannot be tracked (see databases.py): its
        # database file is still reported, as an open file
        "test_sqlite": ["db-connection" if SQLITE_TRACKED else "file"],
        "test_thread": ["thread"],
        "test_process": ["process"],
        "test_loop": ["asyncio"],
        "test_handler": ["logging-handler"],
        "test_signal": ["signal-handler"],
        "test_atexit": ["atexit"],
        "test_excepthook": ["sys-hook"],
    }


def test_file_dropped_without_close_is_found_by_its_resource_warning(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(
        """
        def test_dropped(tmp_path):
            (tmp_path / "a.txt").write_text("x")
            handle = open(tmp_path / "a.txt")
            del handle

        def test_closed(tmp_path):
            (tmp_path / "a.txt").write_text("x")
            with open(tmp_path / "a.txt") as handle:
                handle.read()
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["  unclosed: unclosed file '*a.txt' (mode 'r')  (created at *.py:3)"]
    )


def test_a_dropped_files_site_is_where_it_was_opened_not_a_later_read(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """The same path read back after the file was opened for appending:
    the site is the open in the mode the dropped file was in (loguru's
    pickling tests named the read)."""
    leakguard_pytester.makepyfile(
        """
        def test_dropped_then_read_back(tmp_path):
            path = tmp_path / "app.log"
            handle = open(path, "a")
            handle.write("x")
            handle.flush()
            assert path.read_text() == "x"
            del handle
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["  unclosed: unclosed file '*app.log' (mode 'a')  (created at *.py:3)"]
    )


def test_a_resource_warning_an_error_filter_raises_in_a_finalizer_is_found(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Under ``filterwarnings = error`` the warning is an exception inside
    the finalizer, which goes to ``sys.unraisablehook``: werkzeug's suite,
    which shows pytest's unraisable warning instead of failing on it, left a
    dropped temporary file unreported.  pytest still gets it; a test's own
    replacement of the hook is still the test's leftover."""
    leakguard_pytester.makeini(
        """
        [pytest]
        filterwarnings =
            error
            always::pytest.PytestUnraisableExceptionWarning
        """
    )
    leakguard_pytester.makepyfile(
        """
        import socket, sys

        def test_drops_a_file(tmp_path):
            handle = open(tmp_path / "a.txt", "w")
            del handle

        def test_drops_a_socket():
            sock = socket.socket()
            del sock

        def test_closes_its_file(tmp_path):
            with open(tmp_path / "a.txt", "w") as handle:
                handle.write("x")

        def test_replaces_the_hook():
            sys.unraisablehook = lambda unraisable: None
        """
    )

    # pytest-asyncio warns at configure when its loop scope is unset: an error here
    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-p", "no:asyncio"
    )

    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(
        [
            "  unclosed: unclosed file '*a.txt' (mode 'w')  (created at *.py:4)",
            "  unclosed: unclosed socket 0.0.0.0:0  (created at *.py:8)",
            "LEAKED *::test_replaces_the_hook - 1 sys-hook left open",
        ]
    )
    assert "PytestUnraisableExceptionWarning: Exception ignored" in result.stdout.str()


def test_a_resource_warning_from_a_fixtures_thread_is_not_the_running_tests(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A session fixture's worker thread drops a socket unclosed while a test
    runs: the warning is raised in that thread, which is not the test's, so it
    is an ordinary warning (pytest's summary shows it), not the test's leak; a
    socket the test itself drops is still its leak, and so is one dropped by a
    thread the test started."""
    leakguard_pytester.makepyfile(
        """
        import queue, socket, threading, pytest

        @pytest.fixture(scope="session")
        def worker():
            jobs = queue.Queue()

            def work():
                for job in iter(jobs.get, None):
                    job()

            thread = threading.Thread(target=work, name="fixture-worker")
            thread.start()

            def run(job):
                done = threading.Event()
                jobs.put(lambda: (job(), done.set()))
                assert done.wait(5)

            yield run
            jobs.put(None)
            thread.join()

        def drop_a_socket():
            socket.socket()  # no name kept: deallocated unclosed right here

        def test_fixture_worker_drops_a_socket(worker):
            worker(drop_a_socket)

        def test_drops_its_own_socket(worker):
            drop_a_socket()

        def test_its_own_thread_drops_a_socket(worker):
            thread = threading.Thread(target=drop_a_socket)
            thread.start()
            thread.join()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-W", "always::ResourceWarning"
    )

    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_drops_its_own_socket - 1 unclosed left open",
            "LEAKED *::test_its_own_thread_drops_a_socket - 1 unclosed left open",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*test_fixture_worker_drops_a_socket*", "*ResourceWarning: unclosed <socket*"]
    )


@pytest.mark.parametrize("mode", ["--leakguard", "--leakguard-all"])
def test_resource_dropped_in_a_cycle_warns_in_the_test_that_dropped_it(
    leakguard_pytester: pytest.Pytester, mode: str
) -> None:
    """The collection after each test finds the cycle, whether or not a
    collection ran during the test and moved it to an older generation, the
    oldest included (else a later test's full collection finalized it there
    and that test was blamed: loguru's suite under ``--leakguard-all``); a
    repeated test's runs are collected inside their capture too (paho-mqtt's
    websocket tests were missed under ``--leakguard-all`` before).

    The resource holds no descriptor (like a client session with no
    connection yet), so only its ResourceWarning can show it.
    """
    leakguard_pytester.makepyfile(
        """
        import gc, warnings

        class Session:
            def __init__(self, name):
                self.name, self.me = name, self

            def __del__(self):
                warnings.warn(f"unclosed session {self.name}", ResourceWarning)

        def test_cycle_dropped():
            Session("first")

        def test_clean_after_the_first():
            pass

        def test_cycle_aged_by_a_collection_then_dropped():
            session = Session("second")
            gc.collect(0)  # the cycle survives: generation 1 now
            del session

        def test_clean_after_the_third():
            pass

        def test_cycle_made_old_by_a_full_collection_then_dropped():
            session = Session("third")
            gc.collect()  # the cycle survives: the oldest generation now
            del session

        def test_clean_that_collects_everything():
            gc.collect()  # would finalize an old cycle left by the test before
        """
    )

    result = leakguard_pytester.runpytest_subprocess(mode, "-p", "no:randomly")

    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_cycle_dropped - 1 unclosed left open",
            "LEAKED *::test_cycle_aged_by_a_collection_then_dropped - 1 unclosed left open",
            "LEAKED *::test_cycle_made_old_by_a_full_collection_then_dropped - 1 unclosed*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*unclosed session first*",
            "*unclosed session second*",
            "*unclosed session third*",
        ]
    )


def test_a_marked_tests_first_run_drops_a_loop_in_an_old_cycle_and_is_blamed(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A repeated test's first run is frozen with the heap while it is
    measured: an event loop it dropped in a cycle that had reached an older
    generation was unfrozen with it, and a later clean test that ran a full
    collection was reported for it (found on loguru's suite)."""
    leakguard_pytester.makepyfile(
        """
        import asyncio, gc, pytest

        @pytest.mark.leakguard
        def test_drops_a_loop():
            loop = asyncio.new_event_loop()
            gc.collect(0)  # the live loop, a reference cycle: generation 1 now
            del loop

        def test_collects():
            gc.collect()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-p", "no:asyncio"
    )

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["LEAKED *::test_drops_a_loop - 1 unclosed left open"])
    result.stdout.no_fnmatch_line("LEAKED *::test_collects*")


@pytest.mark.parametrize("mode", ["--leakguard", "--leakguard-all"])
def test_a_test_that_drops_what_an_earlier_test_left_open_is_not_blamed(
    leakguard_pytester: pytest.Pytester, mode: str
) -> None:
    """An event loop and a file an earlier test left open (and was reported
    for) warn when a later test lets go of them: that test only cleaned up
    (loguru's suite, where one test's ``set_event_loop`` dropped the loop
    the test before had set; repeated, such a test was judged against what
    was open once it was warm).  What it opens and drops itself is its own."""
    leakguard_pytester.makepyfile(
        """
        import asyncio, gc

        kept = []

        def test_leaves_a_loop_set_and_a_file_open(tmp_path):
            asyncio.set_event_loop(asyncio.new_event_loop())
            kept.append(open(tmp_path / "a.txt", "w"))

        def test_lets_go_of_them():
            asyncio.set_event_loop(None)
            kept.clear()
            gc.collect()

        def test_drops_its_own_loop():
            asyncio.new_event_loop()
            gc.collect()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        mode, "-p", "no:randomly", "-p", "no:asyncio"
    )

    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_leaves_a_loop_set_and_a_file_open - *",
            "LEAKED *::test_drops_its_own_loop - *",
        ]
    )
    result.stdout.no_fnmatch_line("LEAKED *::test_lets_go_of_them*")


def test_allowlist_in_ini_and_marker_accepts_known_resources(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeini(
        """
        [pytest]
        console_output_style = classic
        asyncio_default_fixture_loop_scope = function
        leakguard_allow =
            logging-handler:*on logger 'app.metrics'*
        """
    )
    leakguard_pytester.makepyfile(
        """
        import logging, os, pytest

        def test_allowed_by_ini():
            logging.getLogger("app.metrics").addHandler(logging.NullHandler())

        @pytest.mark.leakguard(allow=["fd:*pipe*"], resources=True)
        def test_allowed_by_marker():
            test_allowed_by_marker.fds = os.pipe()

        @pytest.mark.no_leakguard(reason="owns the pool")
        def test_opted_out():
            test_opted_out.fds = os.pipe()
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=3)


def test_malformed_allow_entry_is_a_usage_error_naming_it(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nleakguard_allow = sockets:*6379*\n"
    )
    leakguard_pytester.makepyfile("def test_x(): pass")

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*invalid allow entry 'sockets:*6379*' in ini leakguard_allow: unknown kind 'sockets'*"
        ]
    )


BLINKER_CONFTEST = """
    import blinker
    from pytest_leakguard import Resource

    request_started = blinker.signal("request-started")


    class ReceiverChecker:
        kind = "blinker-receiver"

        def snapshot(self):
            return frozenset(str(key) for key in request_started.receivers)

        def describe(self, keys):
            print("HOOK: describe", len(list(keys)))
            return [Resource(self.kind, key, f"receiver on {request_started.name!r}", None, self.kind) for key in keys]


    def pytest_leakguard_resource_checkers(config):
        print("HOOK: resource_checkers")
        return [ReceiverChecker()]
"""

BLINKER_TESTS = """
    from conftest import request_started

    def on_request(sender):
        pass

    def test_receiver_connected_per_call_and_never_disconnected():
        handler = lambda sender: None
        request_started.connect(handler, weak=False)

    def test_receiver_disconnected():
        request_started.connect(on_request)
        request_started.send("app")
        request_started.disconnect(on_request)
"""


def test_a_conftest_checker_for_blinker_finds_the_textbook_listener_leak(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeconftest(BLINKER_CONFTEST)
    leakguard_pytester.makepyfile(BLINKER_TESTS)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-s", "-p", "no:randomly"
    )

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "HOOK: resource_checkers",
            "*HOOK: describe 1",
            "  blinker-receiver: receiver on 'request-started'",
            "LEAKED *::test_receiver_connected_per_call_and_never_disconnected - 1 blinker-receiver left open",
        ]
    )


def test_ignore_hook_accepts_a_resource(leakguard_pytester: pytest.Pytester) -> None:
    leakguard_pytester.makeconftest(
        """
        def pytest_leakguard_ignore_resource(resource, item):
            print("HOOK: ignore", resource.kind, item.name)
            return resource.kind == "thread"
        """
    )
    leakguard_pytester.makepyfile(
        """
        import threading
        def test_background():
            ev = threading.Event(); test_background.ev = ev
            threading.Thread(target=ev.wait, daemon=True).start()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-s", "--leakguard-settle-time=0"
    )

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*HOOK: ignore thread test_background"])


@pytest.fixture(scope="module")
def redis_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with redis_server(tmp_path_factory.mktemp("redis")) as port:
        yield port


def test_unclosed_redis_client_is_caught_and_a_closed_one_is_not(
    leakguard_pytester: pytest.Pytester,
    redis_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_PORT", str(redis_port))
    leakguard_pytester.makepyfile(
        """
        import os, redis

        clients = []

        def test_client_left_connected():
            client = redis.Redis(host="127.0.0.1", port=int(os.environ["REDIS_PORT"]))
            client.set("greeting", "hello")
            clients.append(client)

        def test_client_closed():
            client = redis.Redis(host="127.0.0.1", port=int(os.environ["REDIS_PORT"]))
            try:
                assert client.get("greeting") in (None, b"hello")
            finally:
                client.close()
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            f"  socket: socket 127.0.0.1:* -> 127.0.0.1:{redis_port} (ESTABLISHED)*",
            "LEAKED *::test_client_left_connected - 1 socket left open",
        ]
    )


def test_what_a_module_fixture_owns_is_not_waited_for(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Stragglers are waited for only when they are the test's: a module
    fixture's server, set up inside its first test and open until the module
    ends, once cost that test the whole settle time (a minute here)."""
    leakguard_pytester.makepyfile(SERVER_AND_CLIENTS)

    started = time.monotonic()
    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "-p",
        "no:randomly",
        "--leakguard-settle-time=60",
        "-k",
        "closed or late",  # the module goes on after the fixture's first test
    )

    result.assert_outcomes(passed=2)
    assert time.monotonic() - started < 30


def test_a_library_that_replaces_its_loggers_handler_on_every_start_is_flagged_once(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """hypercorn sets ``logger.handlers = [StreamHandler(sys.stderr)]`` on
    every server start (urllib3's suite starts one per test and per class):
    only the first start leaves a handler in place; the others swap it."""
    leakguard_pytester.makepyfile(
        """
        import logging, sys, pytest

        def start_server():
            logging.getLogger("fakeserver.error").handlers = [logging.StreamHandler(sys.stderr)]

        def test_first_start():
            start_server()

        @pytest.fixture
        def server():
            start_server()
            yield

        def test_per_test_server(server):
            pass

        class TestClassServer:
            @classmethod
            def setup_class(cls):
                start_server()

            def test_uses_it(self):
                pass

        def test_adds_one_more():
            logging.getLogger("fakeserver.error").addHandler(logging.StreamHandler(sys.stdout))
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_first_start - 1 logging-handler left open",
            "LEAKED *::test_adds_one_more - 1 logging-handler left open",
        ]
    )
    result.stdout.no_fnmatch_line("LEAKED *test_per_test_server*")
    result.stdout.no_fnmatch_line("*TestClassServer*left open*")


def test_what_a_broader_fixture_dropped_in_a_cycle_is_garbage_not_left_open(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """websockets' sync server drops its ``selectors.DefaultSelector()`` in a
    reference cycle when it stops: the fixture's teardown check collects
    before it reports, as a test's does; a pipe it keeps is still its leak."""
    leakguard_pytester.makepyfile(
        """
        import os, selectors, threading, pytest

        def serve(stop_fd):
            poller = selectors.DefaultSelector()
            poller.register(stop_fd, selectors.EVENT_READ)
            poller.select()

        @pytest.fixture(scope="module")
        def server():
            r, w = os.pipe()
            thread = threading.Thread(target=serve, args=(r,))
            thread.start()
            yield
            os.write(w, b"x")
            thread.join()
            os.close(r)
            os.close(w)

        @pytest.fixture(scope="module")
        def leaky():
            kept = os.pipe()
            yield kept

        def test_a(server):
            pass

        def test_b(server):
            pass

        def test_c(leaky):
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "  fd: fixture leaky (module scope) left open: 2 alike",
            "LEAKED *::test_c - 2 fd left open",
        ]
    )
    result.stdout.no_fnmatch_line("*epoll*")


def test_a_function_fixture_overriding_a_broader_one_of_its_name_is_not_it(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """requests' conftest wraps pytest-httpbin's session ``httpbin`` in a
    function-scoped ``httpbin``: the wrapper's teardown after the first test
    is not the session fixture's, whose own teardown is still checked."""
    leakguard_pytester.makepyfile(
        """
        import os, socket, threading, pytest

        @pytest.fixture(scope="session")
        def server():
            sock = socket.create_server(("127.0.0.1", 0))
            sock.settimeout(0.05)
            stop = threading.Event()

            def serve():
                while not stop.is_set():
                    try:
                        sock.accept()[0].close()
                    except TimeoutError:
                        continue

            thread = threading.Thread(target=serve)
            thread.start()
            kept = os.pipe()  # never closed: the session fixture's leak
            yield sock.getsockname()
            stop.set()
            thread.join()
            sock.close()

        class TestOverride:
            @pytest.fixture
            def server(self, server):
                return "http://%s:%d/" % server

            def test_first(self, server):
                pass

            def test_second(self, server):
                pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "  fd: fixture server (session scope) left open: 2 alike",
            "LEAKED *::test_second - 2 fd left open",
        ]
    )
    result.stdout.no_fnmatch_line("LEAKED *::test_first*")


def test_a_broader_fixture_requested_during_anothers_setup_is_checked_at_its_own_teardown(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """pytest-asyncio 1.x requests its ``_module_scoped_runner`` with
    getfixturevalue while it sets up a module-scoped asyncio fixture (redis-py's
    ``master_ip``): the runner's loop, closed at the runner's teardown, is not
    the outer fixture's, torn down first.  A loop the inner one never closes
    is still its leak."""
    leakguard_pytester.makepyfile(
        """
        import asyncio, pytest

        @pytest.fixture(scope="module")
        def runner():
            loop = asyncio.new_event_loop()
            yield loop
            loop.close()

        @pytest.fixture(scope="module")
        def leaky_runner():
            yield asyncio.new_event_loop()

        @pytest.fixture(scope="module")
        def outer(request):
            request.getfixturevalue("runner")
            yield

        @pytest.fixture(scope="module")
        def leaky_outer(request):
            request.getfixturevalue("leaky_runner")
            yield

        def test_first(outer):
            pass

        def test_second(outer):
            pass

        class TestLeaky:
            def test_only(self, leaky_outer):
                pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*fixture leaky_runner (module scope) left open: asyncio event loop*"]
    )
    result.stdout.no_fnmatch_line("*fixture outer (module scope)*")
    result.stdout.no_fnmatch_line("*fixture leaky_outer (module scope)*")


def test_what_a_failed_tests_exception_held_is_not_a_later_tests(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """pytest keeps a failed or xfailed test's exception in ``sys.last_value``
    until the next test's call phase; what its frames held in a cycle then
    warned in whichever later test ran a full collection, and was blamed there
    (starlette: anyio streams of xfailing tests).  What a test drops itself in
    a cycle is still its leak."""
    leakguard_pytester.makepyfile(
        """
        import gc, warnings, pytest

        class Session:
            def __init__(self):
                self.me = self  # a cycle: only the collector frees it

            def __del__(self):
                warnings.warn("unclosed session", ResourceWarning, source=self)

        @pytest.mark.xfail(raises=AssertionError, strict=True)
        def test_fails_holding_a_session():
            session = Session()
            gc.collect()  # the full collection after it ages what survives
            raise AssertionError("the test's own failure")

        def test_next():
            pass

        def test_collects_later():
            gc.collect()

        def test_drops_its_own_session():
            Session()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-v"
    )

    result.assert_outcomes(passed=2, failed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["LEAKED *::test_drops_its_own_session - 1 unclosed left open"]
    )
    result.stdout.no_fnmatch_line("LEAKED *::test_collects_later*")


def test_what_a_teardown_hook_releases_after_the_fixtures_is_not_their_leak(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """SQLAlchemy's plugin disposes of its engine's pool in a
    ``pytest_runtest_teardown`` wrapper, after the fixtures of a class's last
    test are torn down; the class fixture that first filled the pool left
    nothing open once the teardown was over (F25).  A pool that nobody
    disposes of is still the fixture's leak."""
    leakguard_pytester.makeconftest(
        """
        import socket, pytest

        POOLS = {}

        def connect(name):
            if name not in POOLS:
                POOLS[name] = socket.socket()
            return POOLS[name]

        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_teardown(item, nextitem):
            yield
            ending = nextitem is None or nextitem.cls is not item.cls
            if ending and getattr(item.cls, "disposed", False):
                POOLS.pop(item.cls.__name__).close()
        """
    )
    leakguard_pytester.makepyfile(
        """
        import pytest
        from conftest import connect

        @pytest.fixture(scope="class")
        def pool_user(request):
            connect(request.cls.__name__)
            yield

        @pytest.mark.usefixtures("pool_user")
        class TestNotDisposed:
            def test_one(self):
                pass

            def test_last(self):
                pass

        @pytest.mark.usefixtures("pool_user")
        class TestDisposed:
            disposed = True

            def test_one(self):
                connect("TestDisposed")

            def test_last(self):
                connect("TestDisposed")

        def test_after():
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "  socket: fixture pool_user (class scope) left open: socket (fd *)",
            "LEAKED *::TestNotDisposed::test_last - 1 socket left open",
        ]
    )
    result.stdout.no_fnmatch_line("LEAKED *::TestDisposed::*")


def test_asyncio_putting_sigint_back_in_a_run_started_with_it_ignored_is_not_a_leak(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A shell without job control (``cmd &`` in a script or CI step) starts
    pytest with SIGINT ignored; asyncio's ``remove_signal_handler`` puts
    Python's ``default_int_handler`` back, not what was there (aiohttp's
    ``AppRunner(handle_signals=True)``).  Any other handler left is reported."""
    leakguard_pytester.makepyfile(
        """
        import asyncio, signal

        def test_adds_and_removes_a_loop_handler():
            loop = asyncio.new_event_loop()
            try:
                loop.add_signal_handler(signal.SIGINT, lambda: None)
                loop.remove_signal_handler(signal.SIGINT)
            finally:
                loop.close()

        def on_interrupt(signum, frame):
            pass

        def test_installs_its_own():
            signal.signal(signal.SIGINT, on_interrupt)
        """
    )
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the child
    try:
        result = leakguard_pytester.runpytest_subprocess(
            "--leakguard", "-p", "no:randomly"
        )
    finally:
        signal.signal(signal.SIGINT, previous)

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["LEAKED *::test_installs_its_own - 1 signal-handler left open"]
    )
