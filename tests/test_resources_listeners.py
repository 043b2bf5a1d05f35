"""Listener and registration checkers, exercised on real interpreter state.

Every test restores what it changes (handlers, signals, atexit, hooks, loops),
because a leak checker's own suite must not leak, and provokes ResourceWarnings
only inside a block that records them.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fractions
import gc
import importlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tracemalloc
import warnings
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard.resources.asyncio_tasks import AsyncioChecker
from pytest_leakguard.resources.atexit_callbacks import AtexitChecker
from pytest_leakguard.resources.base import Resource, ResourceChecker
from pytest_leakguard.resources.logging_handlers import LoggingHandlerChecker
from pytest_leakguard.resources.signals import SignalHandlerChecker
from pytest_leakguard.resources.sys_hooks import SysHookChecker, allocation_site
from pytest_leakguard.resources.unclosed import (
    capture_resource_warnings,
    describe_resource_warning,
)

THIS_FILE = Path(__file__).name


def is_here(site: str | None) -> bool:
    """Whether a ``path.py:31 in func`` site points into this test module."""
    return site is not None and site.partition(":")[0].endswith(THIS_FILE)


def leftovers(checker: ResourceChecker, action: Callable[[], object]) -> list[Resource]:
    """Describe what ``action`` left between two snapshots, as the runner does."""
    before = checker.snapshot()
    action()
    return checker.describe(checker.snapshot() - before)


@pytest.fixture
def tracing() -> Iterator[None]:
    """tracemalloc on for the test, so creation sites are known."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(25)
    yield
    if started:
        tracemalloc.stop()


@contextlib.contextmanager
def provoked_resource_warnings() -> Iterator[list[warnings.WarningMessage]]:
    """Record the ResourceWarnings a test causes on purpose (the suite errors on them).

    ``ignore`` hides them from pytest's ``error`` filter; the capture turns that
    ``ignore`` into ``always`` for itself, which is also what it promises.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        with capture_resource_warnings() as caught:
            yield caught
            gc.collect()


@pytest.mark.parametrize(
    ("checker_class", "kind"),
    [
        (LoggingHandlerChecker, "logging-handler"),
        (SignalHandlerChecker, "signal-handler"),
        (AtexitChecker, "atexit"),
        (SysHookChecker, "sys-hook"),
        (AsyncioChecker, "asyncio"),
    ],
)
def test_every_listener_checker_follows_the_contract_and_is_quiet_when_idle(
    checker_class: type[Any], kind: str
) -> None:
    checker = checker_class()
    try:
        assert isinstance(checker, ResourceChecker)
        assert checker.kind == kind
        assert leftovers(checker, lambda: None) == []
        assert checker.describe({"no such key"}) == []
    finally:
        getattr(checker, "uninstall", lambda: None)()


# -- logging handlers ------------------------------------------------------------------


@pytest.fixture
def app_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("leakguard_test.app.requests")
    saved = list(logger.handlers)
    yield logger
    for handler in logger.handlers[:]:
        if handler not in saved:
            logger.removeHandler(handler)
            handler.close()


def test_file_handler_left_on_a_named_logger_is_reported_with_file_and_site(
    app_logger: logging.Logger, tmp_path: Path, tracing: None
) -> None:
    handler = logging.FileHandler(tmp_path / "app.log", delay=True)

    found = leftovers(LoggingHandlerChecker(), lambda: app_logger.addHandler(handler))

    [leak] = found
    assert leak.kind == "logging-handler"
    assert leak.description.startswith("logging handler FileHandler('")
    assert leak.description.endswith(
        "app.log') on logger 'leakguard_test.app.requests'"
    )
    assert is_here(leak.site)
    assert leak.fingerprint.endswith(":leakguard_test.app.requests:app.log")
    assert str(tmp_path) not in leak.fingerprint


def test_handler_removed_again_and_handlers_present_before_are_not_reported(
    app_logger: logging.Logger,
) -> None:
    app_logger.addHandler(logging.NullHandler())  # before the first snapshot
    handler = logging.StreamHandler(sys.stderr)

    def add_and_remove() -> None:
        app_logger.addHandler(handler)
        app_logger.removeHandler(handler)

    assert leftovers(LoggingHandlerChecker(), add_and_remove) == []


def test_a_handler_swapped_for_one_of_its_class_is_not_left_but_one_more_is(
    app_logger: logging.Logger,
) -> None:
    """hypercorn sets ``logger.handlers = [StreamHandler(sys.stderr)]`` on
    every start: one handler however often; a handler added per call grows."""
    app_logger.handlers = [logging.StreamHandler(sys.stderr)]
    checker = LoggingHandlerChecker()

    def swap() -> None:
        app_logger.handlers = [logging.StreamHandler(sys.stderr)]

    assert leftovers(checker, swap) == []
    added = logging.StreamHandler(sys.stdout)
    [leak] = leftovers(checker, lambda: app_logger.addHandler(added))
    assert leak.description.startswith("logging handler StreamHandler(")
    assert leak.description.endswith(" on logger 'leakguard_test.app.requests'")
    assert leak.key.startswith("logging.StreamHandler #2 on ")


@pytest.fixture
def fresh_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], str]]:
    """Write a module with the given body under a fresh name, importable from
    ``tmp_path``; forget it afterwards (and its logger's handlers)."""
    names: list[str] = []

    def write(body: str) -> str:
        name = f"leakguard_fresh_{tmp_path.name}_{len(names)}"  # unique per test
        (tmp_path / f"{name}.py").write_text(body)
        importlib.invalidate_caches()  # the directory may be listed already
        names.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in names:
        sys.modules.pop(name, None)
        logger = logging.getLogger(name)
        for handler in logger.handlers[:]:
            logger.removeHandler(handler)


def test_a_librarys_null_handler_added_on_import_is_one_time_set_up(
    fresh_module: Callable[[str], str],
) -> None:
    """The logging documentation's advice to libraries, done by a module a test
    imports first; a second NullHandler on that logger, or a subclass, is reported."""
    name = fresh_module(
        "import logging\nlogging.getLogger(__name__).addHandler(logging.NullHandler())\n"
    )
    checker = LoggingHandlerChecker()
    assert leftovers(checker, lambda: __import__(name)) == []

    class QuietHandler(logging.NullHandler):
        pass

    logger = logging.getLogger(name)
    [second] = leftovers(checker, lambda: logger.addHandler(logging.NullHandler()))
    [subclass] = leftovers(checker, lambda: logger.addHandler(QuietHandler()))
    assert second.description == f"logging handler NullHandler() on logger '{name}'"
    assert ".QuietHandler() on logger " in subclass.description


def test_a_null_handler_on_a_logger_no_module_is_named_after_is_reported(
    app_logger: logging.Logger,
) -> None:
    found = leftovers(
        LoggingHandlerChecker(), lambda: app_logger.addHandler(logging.NullHandler())
    )
    assert [leak.description for leak in found] == [
        "logging handler NullHandler() on logger 'leakguard_test.app.requests'"
    ]


def test_handler_on_a_logger_that_was_a_placeholder_is_found() -> None:
    """getLogger on a parent name swaps in a Logger without resizing loggerDict."""
    logging.getLogger("leakguard_test.placeholder.child")
    checker = LoggingHandlerChecker()
    before = checker.snapshot()
    parent = logging.getLogger("leakguard_test.placeholder")
    handler = logging.StreamHandler(sys.__stderr__)
    parent.addHandler(handler)
    try:
        [leak] = checker.describe(checker.snapshot() - before)
    finally:
        parent.removeHandler(handler)
    assert leak.description == (
        "logging handler StreamHandler(<stderr>) on logger 'leakguard_test.placeholder'"
    )


def test_pytest_capture_handlers_are_never_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert not any(
        "LogCaptureHandler" in key for key in LoggingHandlerChecker().snapshot()
    )


def test_handler_with_hostile_attributes_is_still_described(
    app_logger: logging.Logger,
) -> None:
    class Hostile(logging.Handler):
        @property
        def baseFilename(self) -> str:  # noqa: N802 - logging's name
            raise RuntimeError("boom")

        def __repr__(self) -> str:
            raise RuntimeError("boom")

    [leak] = leftovers(
        LoggingHandlerChecker(), lambda: app_logger.addHandler(Hostile())
    )
    assert "Hostile()" in leak.description


# -- signals ---------------------------------------------------------------------------


def on_term(signum: int, frame: Any) -> None:
    """A handler with a known definition site."""


@pytest.fixture
def sigusr1() -> Iterator[int]:
    previous = signal.getsignal(signal.SIGUSR1)
    yield signal.SIGUSR1
    signal.signal(signal.SIGUSR1, previous)


def test_signal_handler_left_installed_is_named_with_its_definition_site(
    sigusr1: int,
) -> None:
    [leak] = leftovers(SignalHandlerChecker(), lambda: signal.signal(sigusr1, on_term))

    assert leak.description == f"signal SIGUSR1 -> {__name__}.on_term"
    assert is_here(leak.site)
    assert str(leak.site).endswith("in on_term")


def test_signal_handler_restored_or_installed_before_is_not_reported(
    sigusr1: int,
) -> None:
    signal.signal(sigusr1, on_term)  # before the first snapshot

    def swap_and_restore() -> None:
        previous = signal.signal(sigusr1, signal.SIG_IGN)
        signal.signal(sigusr1, previous)

    assert leftovers(SignalHandlerChecker(), swap_and_restore) == []


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored, as in a background job of a shell without job control."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sigint_back_to_default_int_handler_from_inherited_ignore_is_not_reported(
    sigint_ignored: None,
) -> None:
    # asyncio's remove_signal_handler(SIGINT) and loop.close() do this.
    assert (
        leftovers(
            SignalHandlerChecker(),
            lambda: signal.signal(signal.SIGINT, signal.default_int_handler),
        )
        == []
    )


def test_sigint_changed_from_inherited_ignore_to_another_handler_is_reported(
    sigint_ignored: None,
) -> None:
    [leak] = leftovers(
        SignalHandlerChecker(), lambda: signal.signal(signal.SIGINT, on_term)
    )
    assert leak.description == f"signal SIGINT -> {__name__}.on_term"


def test_sigint_ignored_by_a_test_is_still_reported() -> None:
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        [leak] = leftovers(
            SignalHandlerChecker(),
            lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert leak.description == "signal SIGINT -> SIG_IGN"


def test_callable_without_qualname_and_with_raising_repr_is_described(
    sigusr1: int,
) -> None:
    class Odd:
        armed = True  # signal.signal() itself reprs the old handler: disarm to restore

        def __call__(self, *args: object) -> None: ...

        def __repr__(self) -> str:
            if self.armed:
                raise RuntimeError("boom")
            return "Odd()"

    try:
        [leak] = leftovers(
            SignalHandlerChecker(), lambda: signal.signal(sigusr1, Odd())
        )
    finally:
        Odd.armed = False
    assert leak.description.endswith("Odd instance")
    assert leak.site is not None
    assert "Odd.__call__" in leak.site


# -- atexit ----------------------------------------------------------------------------


@pytest.fixture
def atexit_checker() -> Iterator[AtexitChecker]:
    checker = AtexitChecker()
    yield checker
    checker.uninstall()


def flush_at_exit() -> None:
    """A callback with a known definition site."""


def test_atexit_callback_left_registered_is_named_with_its_registration_site(
    atexit_checker: AtexitChecker,
) -> None:
    before = atexit_checker.snapshot()
    atexit.register(flush_at_exit)
    try:
        [leak] = atexit_checker.describe(atexit_checker.snapshot() - before)
    finally:
        atexit.unregister(flush_at_exit)
    assert leak.description.startswith(
        f"atexit callback {__name__}.flush_at_exit (defined at"
    )
    assert is_here(leak.site)
    assert str(leak.site).endswith("registration_site")


def test_atexit_callback_unregistered_or_registered_before_is_not_reported(
    atexit_checker: AtexitChecker,
) -> None:
    atexit_checker.install()
    atexit.register(flush_at_exit)  # before the first snapshot
    try:
        found = leftovers(
            atexit_checker, lambda: atexit.unregister(atexit.register(print))
        )
    finally:
        atexit.unregister(flush_at_exit)
    assert found == []


def test_uninstall_puts_the_real_atexit_functions_back(
    atexit_checker: AtexitChecker,
) -> None:
    register, unregister = atexit.register, atexit.unregister
    atexit_checker.snapshot()
    assert atexit.register is not register
    atexit_checker.uninstall()
    assert (atexit.register, atexit.unregister) == (register, unregister)


# -- sys hooks -------------------------------------------------------------------------


def custom_excepthook(*args: object) -> None:
    """A hook with a known definition site."""


def test_replaced_excepthook_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    [leak] = leftovers(
        SysHookChecker(),
        lambda: monkeypatch.setattr(sys, "excepthook", custom_excepthook),
    )
    assert (
        leak.description == f"sys.excepthook left set to {__name__}.custom_excepthook"
    )
    assert is_here(leak.site)


def test_trace_function_set_and_restored_is_not_reported_but_left_set_is() -> None:
    checker = SysHookChecker()
    previous = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> None:
        return None

    before = checker.snapshot()
    sys.settrace(tracer)
    try:
        left = checker.describe(checker.snapshot() - before)
    finally:
        sys.settrace(previous)
    assert [r.description.split(" left")[0] for r in left] == ["sys.settrace"]
    assert checker.snapshot() == before


# -- asyncio ---------------------------------------------------------------------------


async def poll() -> None:
    await asyncio.sleep(3600)


@pytest.fixture
def asyncio_checker() -> Iterator[AsyncioChecker]:
    checker = AsyncioChecker()
    yield checker
    checker.uninstall()


def test_open_loop_and_pending_task_are_reported_with_sites(
    asyncio_checker: AsyncioChecker, tracing: None
) -> None:
    before = asyncio_checker.snapshot()
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(poll())
        loop.run_until_complete(asyncio.sleep(0))
        found = asyncio_checker.describe(asyncio_checker.snapshot() - before)
        task.cancel()
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    [loop_leak, task_leak] = sorted(found, key=lambda r: r.key)
    # the site once, apart: reports print it after the description
    assert loop_leak.description == (
        f"asyncio event loop <{type(loop).__qualname__}> not closed"
    )
    assert is_here(loop_leak.site)
    assert task_leak.description.startswith(
        f"asyncio Task {task.get_name()!r} pending in"
    )
    assert task_leak.description.endswith(" poll()")
    assert is_here(task_leak.site)
    assert task_leak.fingerprint == f"asyncio:task:{THIS_FILE}:poll"


def test_closed_loops_and_loops_from_before_are_not_reported(
    asyncio_checker: AsyncioChecker,
) -> None:
    asyncio_checker.install()
    earlier = asyncio.new_event_loop()  # open before the first snapshot

    def run_and_close() -> None:
        asyncio.run(asyncio.sleep(0))
        loop = asyncio.new_event_loop()
        loop.run_until_complete(asyncio.sleep(0))
        loop.close()

    try:
        assert leftovers(asyncio_checker, run_and_close) == []
    finally:
        earlier.close()


# -- unclosed (ResourceWarning) --------------------------------------------------------


def test_file_dropped_open_is_described_with_its_site(
    tmp_path: Path, tracing: None
) -> None:
    (tmp_path / "data.txt").write_text("x")
    with provoked_resource_warnings() as caught:
        open(tmp_path / "data.txt")  # noqa: SIM115 - dropped open on purpose

    [leak] = [describe_resource_warning(m) for m in caught]
    assert leak.kind == "unclosed"
    assert (
        leak.description == f"unclosed file {str(tmp_path / 'data.txt')!r} (mode 'r')"
    )
    assert is_here(leak.site)
    assert leak.fingerprint == "unclosed:file:data.txt:r"


def test_dropped_connected_socket_is_described_without_ports_in_fingerprint() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, provoked_resource_warnings() as caught:
        client = socket.create_connection(server.getsockname())
        local, remote = client.getsockname(), client.getpeername()
        del client
        server.accept()[0].close()
    [leak] = [describe_resource_warning(m) for m in caught]
    assert leak.description.startswith(
        f"unclosed socket 127.0.0.1:{local[1]} -> 127.0.0.1:{remote[1]}"
    )
    assert leak.fingerprint == "unclosed:socket:AF_INET:SOCK_STREAM:connected"


def test_event_loop_and_subprocess_dropped_open_are_described() -> None:
    command = [sys.executable, "-c", "import time; time.sleep(30)"]
    with provoked_resource_warnings() as caught:
        asyncio.new_event_loop()
        pid = subprocess.Popen(command).pid
    os.kill(pid, signal.SIGKILL)  # ours: stop it rather than leave it running
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)

    descriptions = sorted(describe_resource_warning(m).description for m in caught)
    assert descriptions[0].startswith("subprocess [")
    assert f"still running (pid {pid})" in descriptions[0]
    assert descriptions[1].startswith("unclosed event loop <_UnixSelectorEventLoop>")


@pytest.mark.skipif(
    sys.version_info < (3, 13), reason="sqlite3 warns since Python 3.13"
)
def test_sqlite_connection_dropped_open_is_described() -> None:
    with provoked_resource_warnings() as caught:
        sqlite3.connect(":memory:")
    [leak] = [describe_resource_warning(m) for m in caught]
    assert leak.description.startswith("unclosed sqlite3 database connection")


def test_message_without_known_site_suggests_tracemalloc() -> None:
    message = warnings.WarningMessage(
        ResourceWarning("unclosed database in <sqlite3.Connection object at 0x7f3a>"),
        ResourceWarning,
        "x.py",
        1,
        source=object(),
    )
    leak = describe_resource_warning(message)
    if not tracemalloc.is_tracing():
        assert leak.description.endswith("(enable tracemalloc for the site)")
    assert leak.fingerprint == "unclosed:sqlite3"


def test_other_warnings_pass_through_and_closed_files_stay_silent(
    tmp_path: Path,
) -> None:
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with capture_resource_warnings() as caught:
            warnings.warn("still mine", UserWarning, stacklevel=1)
            with open(tmp_path / "f.txt", "w"):
                pass
            gc.collect()
    assert caught == []
    assert [str(w.message) for w in outer] == ["still mine"]


def test_resource_warnings_turned_into_errors_stay_errors() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        with capture_resource_warnings(), pytest.raises(ResourceWarning):
            warnings.warn("unclosed thing", ResourceWarning, stacklevel=1)


def test_filters_changed_between_two_captures_are_obeyed() -> None:
    """The visible filter list is remembered between captures, never stale."""
    for action in ("ignore", "error", "ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter(action, ResourceWarning)
            with capture_resource_warnings() as caught:
                if action == "error":
                    with pytest.raises(ResourceWarning):
                        warnings.warn("unclosed thing", ResourceWarning, stacklevel=1)
                else:
                    warnings.warn("unclosed thing", ResourceWarning, stacklevel=1)
            assert len(caught) == (action == "ignore")


def test_pytest_warns_inside_the_capture_still_sees_resource_warnings() -> None:
    with capture_resource_warnings() as caught, pytest.warns(ResourceWarning):
        warnings.warn("unclosed thing", ResourceWarning, stacklevel=1)
    assert caught == []


# -- against a real pytest run ---------------------------------------------------------

RECORDING_CONFTEST = """
    import pytest
    from pytest_leakguard.resources.asyncio_tasks import AsyncioChecker
    from pytest_leakguard.resources.atexit_callbacks import AtexitChecker
    from pytest_leakguard.resources.logging_handlers import LoggingHandlerChecker
    from pytest_leakguard.resources.signals import SignalHandlerChecker
    from pytest_leakguard.resources.sys_hooks import SysHookChecker

    CHECKERS = [AsyncioChecker(), AtexitChecker(), LoggingHandlerChecker(),
                SignalHandlerChecker(), SysHookChecker()]

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(item, nextitem):
        before = [checker.snapshot() for checker in CHECKERS]
        try:
            return (yield)
        finally:
            with open(item.config.rootpath / "leftovers.txt", "a") as out:
                for checker, old in zip(CHECKERS, before):
                    for r in checker.describe(checker.snapshot() - old):
                        out.write(f"{item.name}: {r.description}\\n")
"""

CLEAN_TESTS = """
    import asyncio, logging, sys, warnings
    import pytest, pytest_asyncio

    def test_caplog(caplog):
        logging.getLogger("app").warning("hello")

    def test_monkeypatched_hook(monkeypatch):
        monkeypatch.setattr(sys, "excepthook", lambda *args: None)

    def test_warns():
        with pytest.warns(UserWarning):
            warnings.warn("w", UserWarning)

    def test_asyncio_run():
        asyncio.run(asyncio.sleep(0))

    @pytest_asyncio.fixture
    async def resource():
        await asyncio.sleep(0)
        yield 1

    @pytest.mark.asyncio
    async def test_async_with_fixture_and_pending_task(resource):
        asyncio.get_running_loop().create_task(asyncio.sleep(10))
        await asyncio.sleep(0)
"""

LEAKY_TESTS = """
    import asyncio, atexit, logging, signal, sys

    def on_term(signum, frame): ...

    def test_signal():
        signal.signal(signal.SIGUSR1, on_term)

    def test_atexit():
        atexit.register(print)

    def test_handler():
        logging.getLogger("app.requests").addHandler(logging.NullHandler())

    def test_hook():
        sys.excepthook = on_term

    def test_loop():
        test_loop.loop = asyncio.new_event_loop()
"""


def test_pytest_and_pytest_asyncio_leave_nothing_behind_that_leaky_tests_would(
    pytester: pytest.Pytester,
) -> None:
    """pytest swaps hooks per session and pytest-asyncio closes its loops in teardown.

    Both happen outside the before-setup/after-teardown window, so clean tests
    (with caplog, live logging to a file, monkeypatch, async fixtures) show
    nothing, while the leaky twins of those tests are each found.
    """
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "filterwarnings = error\n"
    )
    pytester.makeconftest(RECORDING_CONFTEST)
    pytester.makepyfile(test_clean=CLEAN_TESTS, test_leaky=LEAKY_TESTS)

    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--log-file=run.log", "--log-cli-level=INFO"
    )

    result.assert_outcomes(passed=10)
    lines = sorted((pytester.path / "leftovers.txt").read_text().splitlines())
    assert [line.split(":")[0] for line in lines] == [
        "test_atexit",
        "test_handler",
        "test_hook",
        "test_loop",
        "test_signal",
    ]
    assert "signal SIGUSR1 -> test_leaky.on_term" in lines[4]


HERE_NAME = Path(__file__).name


# -- allocation sites --------------------------------------------------------------------


def _made_by_the_stdlib() -> object:
    return fractions.Fraction(1, 3)  # allocated in fractions.py's __new__


@pytest.mark.parametrize(("frames", "user_site"), [(1, False), (16, True)])
def test_a_cut_short_trace_names_no_library_frame_as_the_creator(
    frames: int, user_site: bool
) -> None:
    """With one frame traced, an object made inside the standard library has
    only a library frame: no site at all, rather than one that passes for pytest's
    own doing (which the ignore hook would drop)."""
    was_tracing = tracemalloc.is_tracing()
    if was_tracing:
        pytest.skip("tracemalloc already tracing (PYTHONTRACEMALLOC)")
    tracemalloc.start(frames)
    try:
        obj = _made_by_the_stdlib()
        site = allocation_site(obj)
    finally:
        tracemalloc.stop()
    if user_site:
        assert site is not None
        assert HERE_NAME in site
    else:
        assert site is None


def test_atexit_callback_registered_by_a_module_on_import_is_one_time_set_up(
    atexit_checker: AtexitChecker, fresh_module: Callable[[str], str]
) -> None:
    """As ``multiprocessing.util`` does, once per process, for whichever test
    imports it first; the same module registering from a function is reported."""
    name = fresh_module(
        "import atexit\n"
        "def bye():\n    pass\n"
        "def register_again():\n    atexit.register(bye)\n"
        "atexit.register(bye)\n"
    )
    atexit_checker.install()
    try:
        assert leftovers(atexit_checker, lambda: __import__(name)) == []
        [leak] = leftovers(atexit_checker, lambda: sys.modules[name].register_again())
    finally:
        module = sys.modules.get(name)
        if module is not None:
            atexit.unregister(module.bye)
    assert leak.description.startswith(f"atexit callback {name}.bye (defined at")


def test_the_stdlibs_once_per_process_finalize_hook_is_nobodys_leak(
    atexit_checker: AtexitChecker,
) -> None:
    """The first weakref.finalize of a process registers finalize._exitfunc for good."""
    exitfunc = weakref.finalize._exitfunc  # type: ignore[attr-defined]
    try:
        found = leftovers(atexit_checker, lambda: atexit.register(exitfunc))
    finally:
        atexit.unregister(exitfunc)  # removes every copy: put the process's back
        atexit.register(exitfunc)
    assert found == []
