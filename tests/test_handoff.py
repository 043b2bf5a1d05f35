"""A test's starting snapshot taken over from the previous test, and when not."""

from __future__ import annotations

import socket
import threading

import pytest

from pytest_leakguard.handoff import Handoff, starting_point
from pytest_leakguard.resources import sites
from pytest_leakguard.resources.threads import ThreadChecker

COUNTING_CHECKER = """
    import os

    calls = []

    class CountingChecker:
        kind = "counted"

        def snapshot(self):
            calls.append(1)
            return frozenset()

        def describe(self, keys):
            return []

    def pytest_leakguard_resource_checkers(config):
        return [CountingChecker()]

    def pytest_unconfigure(config):
        print("SNAPSHOTS", len(calls))
"""

# pytest-asyncio's broader-scoped fixtures would add the snapshots that
# attribute what they open to them.
NO_BROADER_FIXTURES = ("-p", "no:asyncio")
FIVE_TESTS = "".join(f"def test_{n}():\n    assert {n} + 1\n\n" for n in range(5))


def test_each_clean_test_starts_from_the_previous_tests_last_snapshot(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeconftest(COUNTING_CHECKER)
    leakguard_pytester.makepyfile(FIVE_TESTS)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-s", *NO_BROADER_FIXTURES
    )

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["SNAPSHOTS 6"])  # the first test's start, each end


def test_a_conftest_hook_between_tests_makes_every_test_take_its_own_snapshot(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeconftest(
        COUNTING_CHECKER
        + """
    def pytest_runtest_logreport(report):
        pass
    """
    )
    leakguard_pytester.makepyfile(FIVE_TESTS)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-s", *NO_BROADER_FIXTURES
    )

    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["SNAPSHOTS 10"])


def test_what_a_plugin_installs_around_each_test_is_no_tests_leak(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """pytest-timeout's pattern: an alarm handler per test, installed before
    the test's protocol and removed after it; here a logging handler too."""
    leakguard_pytester.makeconftest(
        """
        import logging, signal, pytest

        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_protocol(item):
            def on_alarm(signum, frame):
                raise TimeoutError(item.nodeid)

            signal.signal(signal.SIGALRM, on_alarm)
            handler = logging.StreamHandler()
            logging.getLogger("per-test").addHandler(handler)
            try:
                return (yield)
            finally:
                logging.getLogger("per-test").removeHandler(handler)
                signal.signal(signal.SIGALRM, signal.SIG_DFL)
        """
    )
    leakguard_pytester.makepyfile(FIVE_TESTS)

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=5)


def test_a_descriptor_opened_or_a_thread_started_since_voids_the_handoff() -> None:
    assert sites.install()
    checker = ThreadChecker()
    checker.install()  # counts thread starts where no audit event does (< 3.12)
    try:
        _check_voiding()
    finally:
        checker.uninstall()


def _check_voiding() -> None:
    snapshot: dict[str, frozenset[str]] = {"thread": frozenset({"thread:1"})}
    table = {0: (0, 0, 0)}

    following, other = object(), object()  # the items, compared by identity

    def handoff() -> Handoff:
        return Handoff(following, sites.activity(), snapshot, table)

    quiet, noisy = True, False
    assert starting_point(handoff(), following, quiet) == (snapshot, None)
    assert starting_point(handoff(), following, noisy) == (None, table)
    assert starting_point(handoff(), other, quiet) == (None, None)

    left = handoff()
    with socket.socket():
        pass
    assert starting_point(left, following, quiet) == (None, None)

    left = handoff()
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    assert starting_point(left, following, quiet) == (None, None)
