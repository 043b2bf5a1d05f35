"""One-time set-up against a leak: the second run of a test that left handles open."""

from __future__ import annotations

import json
import time

import pytest

from pytest_leakguard.resources.databases import sqlite_trackable

#: Python 3.10's sqlite3 connections cannot be tracked (see sqlite_trackable).
needs_tracked_sqlite = pytest.mark.skipif(
    not sqlite_trackable(), reason="sqlite3 connections are not trackable here"
)

LAZY_AND_PER_CALL = """
    import queue, signal, socket, sqlite3, threading, pytest

    @pytest.fixture(scope="module")
    def server():
        listener = socket.create_server(("127.0.0.1", 0))
        stop, accepted = threading.Event(), []

        def serve():
            listener.settimeout(0.05)
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except OSError:
                    pass

        thread = threading.Thread(target=serve)
        thread.start()
        yield listener.getsockname()
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()

    _db = None
    _connections = {}
    _jobs = None

    def database():
        global _db
        if _db is None:  # made on first use, reused by every later call
            _db = sqlite3.connect(":memory:", check_same_thread=False)
        return _db

    def connection(address):
        if address not in _connections:
            _connections[address] = socket.create_connection(address)
        return _connections[address]

    def worker():
        global _jobs
        if _jobs is None:
            _jobs = queue.Queue()
            threading.Thread(target=lambda: [j() for j in iter(_jobs.get, None)],
                             daemon=True, name="lazy-worker").start()
        return _jobs

    _pool = []

    def test_first_to_use_the_lazy_globals(server):
        database().execute("select 1")
        connection(server).sendall(b"ping")
        done = threading.Event()
        worker().put(done.set)
        assert done.wait(5)

    def test_reuses_them(server):
        database().execute("select 1")
        connection(server).sendall(b"ping")

    def test_opens_a_connection_per_call(server):
        _pool.append(socket.create_connection(server))

    def test_lazy_database_and_a_thread_per_call():
        database().execute("select 1")
        threading.Thread(target=threading.Event().wait, args=(2,), daemon=True).start()

    def on_term(*args):
        pass

    def test_installs_a_signal_handler_once():
        signal.signal(signal.SIGUSR2, on_term)
"""


@pytest.mark.parametrize("workers", [[], ["-n", "1"]], ids=["alone", "xdist"])
def test_what_a_second_run_reuses_is_one_time_set_up_and_what_it_adds_is_a_leak(
    leakguard_pytester: pytest.Pytester, workers: list[str]
) -> None:
    """A connection, a database and a worker thread made on first use and
    kept in module globals are not the first user's leak; a connection per
    call is, and so is a thread per call beside a lazy database; a signal
    handler left installed is reported however often it is installed.  Under
    pytest-xdist the controller's summary says the same (the verdict rides on
    the report)."""
    leakguard_pytester.makepyfile(LAZY_AND_PER_CALL)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "-p",
        "no:randomly",
        "-v",
        "--leakguard-json=report.json",
        *workers,
    )

    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_opens_a_connection_per_call - 1 socket left open",
            "LEAKED *::test_lazy_database_and_a_thread_per_call - 1 thread left open",
            "LEAKED *::test_installs_a_signal_handler_once - 1 signal-handler left open",
            "note: 1 test left open only what it reused when run again (one-time set-up*",
            "    *::test_first_to_use_the_lazy_globals",
        ]
    )
    document = json.loads((leakguard_pytester.path / "report.json").read_text())
    kinds = {
        t["nodeid"].split("::")[-1]: sorted(leak["kind"] for leak in t["leaks"])
        for t in document["tests"]
    }
    assert kinds["test_first_to_use_the_lazy_globals"] == []
    set_up_once = [t["nodeid"] for t in document["tests"] if t.get("set_up_once")]
    assert [n.split("::")[-1] for n in set_up_once] == [
        "test_first_to_use_the_lazy_globals"
    ]
    assert kinds["test_lazy_database_and_a_thread_per_call"] == ["thread"]


def test_an_atexit_callback_registered_on_first_use_is_one_time_set_up(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """certifi's ``where()`` registers its clean-up once, on its first call,
    and httpx calls it for every client: the first test of a suite to make
    one was reported (found on httpx's suite).  A callback registered on
    every call is still a leak, the same function or a new closure alike."""
    leakguard_pytester.makepyfile(
        """
        import atexit

        _path = None

        def _cleanup():
            pass

        def where():
            global _path
            if _path is None:  # certifi's pattern: a global, set on first use
                _path = "/etc/ssl/cacert.pem"
                atexit.register(_cleanup)
            return _path

        class Client:
            def __init__(self):
                self.cert = where()
                atexit.register(self.close)  # one per client, never unregistered

            def close(self):
                pass

        def test_first_to_ask_where():
            assert where().endswith(".pem")

        def test_asks_again():
            assert where().endswith(".pem")

        def test_registers_the_same_function_per_call():
            atexit.register(_cleanup)

        def test_makes_a_client_per_call():
            Client()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-v"
    )

    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_first_to_ask_where PASSED*",
            "*::test_asks_again PASSED*",
            "LEAKED *::test_registers_the_same_function_per_call - 1 atexit left open",
            "LEAKED *::test_makes_a_client_per_call - 1 atexit left open",
            "note: 1 test left open only what it reused when run again (one-time set-up*",
            "    *::test_first_to_ask_where",
        ]
    )


@needs_tracked_sqlite
def test_a_test_that_fails_when_run_again_keeps_its_first_runs_leftovers(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A second run that fails cannot tell set-up from a leak: what the first
    run left open is reported, with a note saying why, and the test's own
    outcome is its first run's."""
    leakguard_pytester.makepyfile(
        """
        import sqlite3

        _kept = []

        def test_only_runs_once():
            assert not _kept, "ran before"
            _kept.append(sqlite3.connect(":memory:"))
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_only_runs_once - 1 db-connection left open",
            "note: *::test_only_runs_once: failed when run again to tell one-time "
            "set-up from a leak; what its first run left open is reported",
        ]
    )
    result.stdout.no_fnmatch_line("*ran before*")


@needs_tracked_sqlite
def test_the_connections_django_keeps_are_nobodys_leak_and_others_are(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Django opens one connection per database alias on first use and keeps
    it for the process: a session fixture that makes the schema through it,
    or a class fixture that first uses a second alias, did not leak it (found
    on Django REST framework's suite, where both were reported); a connection
    a test opens besides, through Django or sqlite3, is still its leak."""
    pytest.importorskip("django")
    leakguard_pytester.makeconftest(
        """
        import django
        from django.conf import settings

        def pytest_configure(config):
            memory = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
            settings.configure(
                DATABASES={"default": memory, "secondary": dict(memory)},
                INSTALLED_APPS=[],
            )
            django.setup()
        """
    )
    leakguard_pytester.makepyfile(
        """
        import sqlite3, pytest
        from django.db import connection, connections

        @pytest.fixture(scope="session")
        def schema():
            with connection.cursor() as cursor:  # Django opens and keeps it here
                cursor.execute("create table orders (id integer primary key)")
            yield
            with connection.cursor() as cursor:
                cursor.execute("drop table orders")

        @pytest.fixture(scope="class")
        def reports_database():
            with connections["secondary"].cursor() as cursor:
                cursor.execute("create table if not exists totals (n integer)")
            yield

        @pytest.mark.usefixtures("schema", "reports_database")
        class TestOrders:
            def test_insert(self):
                with connection.cursor() as cursor:
                    cursor.execute("insert into orders default values")

            def test_count(self):
                with connection.cursor() as cursor:
                    cursor.execute("select count(*) from orders")
                    assert cursor.fetchone()[0] >= 1

        kept = []

        def test_opens_its_own_django_connection(schema):
            extra = connections.create_connection("default")
            extra.ensure_connection()
            kept.append(extra)

        def test_opens_its_own_sqlite_connection():
            kept.append(sqlite3.connect(":memory:"))
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "LEAKED *::test_opens_its_own_django_connection - 1 db-connection left open",
            "LEAKED *::test_opens_its_own_sqlite_connection - 1 db-connection left open",
        ]
    )
    result.stdout.no_fnmatch_line("*fixture*left open*")


def test_a_test_that_replaces_what_it_keeps_is_not_a_leak(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A client that closes the connection its last call made before making
    another holds one however often it runs: its second run leaves a new
    connection open but no more than before, which is one-time set-up, not a
    leak (it was reported, "per run: +1").  A connection kept per call still
    is one, and so is a file that the next call lets go of unclosed (its
    ResourceWarning says so)."""
    leakguard_pytester.makepyfile(
        """
        import select, socket, pytest

        @pytest.fixture(scope="module")
        def server():
            listener = socket.create_server(("127.0.0.1", 0))
            yield listener.getsockname()
            listener.close()

        _current = {}

        def reconnect(address):
            old = _current.pop("connection", None)
            if old is not None:
                old.close()
            _current["connection"] = socket.create_connection(address)

        def test_reconnects(server):
            reconnect(server)

        _selectors = []

        def test_renews_its_selector():
            while _selectors:
                _selectors.pop().close()
            _selectors.append(select.epoll())

        _kept = []

        def test_connects_per_call(server):
            _kept.append(socket.create_connection(server))

        _log = []

        def test_drops_the_file_it_kept_unclosed(tmp_path):
            _log[:] = [open(tmp_path / "app.log", "w")]
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-v"
    )

    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*::test_reconnects PASSED*",
            "*::test_renews_its_selector PASSED*",
            "LEAKED *::test_connects_per_call - 1 socket left open",
            "LEAKED *::test_drops_the_file_it_kept_unclosed - 1 file left open",
            "note: 2 tests left open only what they reused when run again (one-time set-up*",
        ]
    )


def test_what_a_second_run_renews_without_an_audit_event_is_not_the_next_tests(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """``select.epoll`` and ``os.eventfd`` open descriptors without an audit
    event.  A second run that made a new selector and dropped the first one
    left the descriptor count as it was, so the descriptor table was kept:
    the next test to leak an eventfd was reported for the first test's
    selector instead ("epoll instance"), and its eventfd was missed.  The
    second run's snapshots now read the table afresh."""
    leakguard_pytester.makepyfile(
        """
        import os, select

        _kept = []

        def test_keeps_its_latest_selector():
            _kept[:] = [select.epoll()]  # the one before closes once dropped

        _counters = []

        def test_leaks_an_eventfd():
            _counters.append(os.eventfd(0))

        def test_clean():
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-v"
    )

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*::test_keeps_its_latest_selector PASSED*",
            "  fd: eventfd (fd *)",
            "LEAKED *::test_leaks_an_eventfd - 1 fd left open",
        ]
    )
    result.stdout.no_fnmatch_line("*epoll instance*")


def test_a_fixture_whose_descriptor_number_a_test_took_over_released_it(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A module fixture closes its listening socket at teardown, after the
    module's last test opened an eventfd: one descriptor closed, one opened
    without an audit event, the count unchanged.  The fixture was reported
    for a socket "left open" and the test's eventfd was missed; a fixture's
    teardown check now reads the table afresh."""
    leakguard_pytester.makepyfile(
        """
        import os, socket, pytest

        @pytest.fixture(scope="module")
        def listener():
            sock = socket.create_server(("127.0.0.1", 0))
            yield sock
            sock.close()

        def test_uses_the_listener(listener):
            assert listener.getsockname()

        _counters = []

        def test_last_in_module_leaks_an_eventfd(listener):
            _counters.append(os.eventfd(0))
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "-v"
    )

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "  fd: eventfd (fd *)",
            "LEAKED *::test_last_in_module_leaks_an_eventfd - 1 fd left open",
        ]
    )
    result.stdout.no_fnmatch_line("*fixture listener*")


def test_a_leak_is_not_waited_for_when_nothing_else_runs(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Stragglers are waited for because another thread may close them; with
    no other thread in the process (none of Python's, none of a library's)
    and no child process left, nothing can, and a leak confirmed by a second
    run cost twice the settle time (a minute each here).  A thread left
    running is still waited for, and found."""
    leakguard_pytester.makepyfile(
        """
        import os, threading

        _pipes = []

        def test_leaks_a_pipe():
            _pipes.append(os.pipe())

        def test_leaves_a_thread():
            threading.Thread(target=threading.Event().wait, args=(90,), daemon=True).start()
        """
    )

    started = time.monotonic()
    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "-p",
        "no:randomly",
        "-p",
        "no:rerunfailures",  # its server thread would be one more thread
        "--leakguard-settle-time=60",
        "-k",
        "pipe",
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED *::test_leaks_a_pipe - 2 fd left open"])
    assert time.monotonic() - started < 30

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "-p",
        "no:randomly",
        "-p",
        "no:rerunfailures",
        "--leakguard-settle-time=0.3",
        "-k",
        "thread",
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED *::test_leaves_a_thread - 1 thread left open"])


def test_a_confirmed_leak_is_waited_for_once(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """What the first run left outlived the whole settle time; the second
    run's leftovers made the same way are not waited for again (a confirmed
    leak cost two settle times, with another thread running).  Counted in
    the seconds asked of ``time.sleep``, which no loaded machine inflates."""
    leakguard_pytester.makeconftest(
        """
        import threading, time, pytest

        asked = []
        _sleep = time.sleep

        def counting_sleep(seconds):
            asked.append(seconds)
            _sleep(seconds)

        time.sleep = counting_sleep

        @pytest.fixture(scope="session", autouse=True)
        def busy_neighbour():  # another thread: the settle time is waited
            stop = threading.Event()
            thread = threading.Thread(target=stop.wait, name="neighbour")
            thread.start()
            yield
            stop.set()
            thread.join()

        def pytest_terminal_summary(terminalreporter):
            terminalreporter.write_line(f"asked to sleep {sum(asked):.1f} s")
        """
    )
    leakguard_pytester.makepyfile(
        """
        import os

        _pipes = []

        def test_leaks_a_pipe_per_call():
            _pipes.append(os.pipe())
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", "--leakguard-settle-time=2"
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["LEAKED *::test_leaks_a_pipe_per_call - 2 fd left open"]
    )
    asked = float(result.stdout.str().split("asked to sleep ")[1].split()[0])
    assert 1.0 <= asked <= 2.5


CLASS_TRACKING_CONFTEST = """
    import pytest

    DATABASE = {}
    _current_class = None

    def pytest_runtest_setup(item):
        global _current_class
        if _current_class is None:
            _current_class = item.getparent(pytest.Class)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(item, nextitem):
        # SQLAlchemy's plugin: the class ends when the next item is not in it.
        global _current_class
        yield
        if _current_class is not None and (
            nextitem is None or nextitem.getparent(pytest.Class) is not _current_class
        ):
            _current_class = None
            DATABASE.clear()
"""


#: A class whose tests need what its class fixture set up, and which the
#: conftest above drops when it sees the class before it end.
NEXT_CLASS_NEEDS_ITS_TABLES = """
        @pytest.fixture(scope="class")
        def tables():
            DATABASE["tables"] = ["users"]

        @pytest.mark.usefixtures("tables")
        class TestTables:
            def test_one(self):
                assert DATABASE["tables"] == ["users"]

            def test_two(self):
                assert DATABASE["tables"] == ["users"]
"""


@pytest.mark.parametrize("marker", ["", "@pytest.mark.leakguard(runs=3, warmup=1)"])
def test_a_rerun_ends_its_class_through_the_teardown_hooks(
    leakguard_pytester: pytest.Pytester, marker: str
) -> None:
    """A test run again at the end of its class ends the class again through
    the teardown hooks, as its first run did: a plugin that tracks the current
    class through them (SQLAlchemy's) must not lose count and fail the next
    class's tests (B1)."""
    leakguard_pytester.makeconftest(CLASS_TRACKING_CONFTEST)
    leakguard_pytester.makepyfile(
        f"""
        import socket
        import pytest
        from conftest import DATABASE

        KEPT = []

        class TestKeepsASocket:
            {marker}
            def test_keeps(self):
                KEPT.append(socket.socket())
        """
        + NEXT_CLASS_NEEDS_ITS_TABLES
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["LEAKED *::TestKeepsASocket::test_keeps - *socket*"])


def test_a_repeated_test_failing_on_a_later_run_still_ends_its_class_through_the_hooks(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A repeated test that fails on its second run (NOT REPEATABLE) still ends
    its class through the teardown hooks: unwound without them, SQLAlchemy's
    class tracking lost count and the next classes' tests failed."""
    leakguard_pytester.makeconftest(CLASS_TRACKING_CONFTEST)
    leakguard_pytester.makepyfile(
        """
        import pytest
        from conftest import DATABASE

        RAN = []

        class TestOnlyOnce:
            @pytest.mark.leakguard(runs=3, warmup=1)
            def test_once(self):
                assert not RAN, "ran before"
                RAN.append(True)
        """
        + NEXT_CLASS_NEEDS_ITS_TABLES
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["NOT REPEATABLE *::TestOnlyOnce::test_once - failed on run 2"]
    )
