"""The guard's quiet round: while no checker's signal moved, the last answers stand."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest

from pytest_leakguard.resources.base import Resource
from pytest_leakguard.resources.guard import ResourceGuard


class SignalledChecker:
    """Answers from ``held``; its signal is ``version``, moved by ``hold``."""

    kind = "signalled"

    def __init__(self) -> None:
        self.held: frozenset[str] = frozenset({"signalled:1"})
        self.version = 0
        self.asked = 0
        self.signals: tuple[Callable[[], object], ...] = (self.read_version,)

    def read_version(self) -> object:
        return self.version

    def hold(self, *keys: str) -> None:
        self.held = frozenset(keys)
        self.version += 1

    def snapshot(self) -> frozenset[str]:
        self.asked += 1
        return self.held

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        return []


class OwnSignalChecker:
    """No signals: its own snapshot stands for one; ``fresh`` makes every
    answer a new (equal) set, which can never be taken for unchanged."""

    kind = "own"

    def __init__(self, fresh: bool = False) -> None:
        self.fresh = fresh
        self.held: frozenset[str] = frozenset({"own:1"})
        self.asked = 0

    def snapshot(self) -> frozenset[str]:
        self.asked += 1
        return frozenset(list(self.held)) if self.fresh else self.held

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        return []


def test_a_round_with_no_signal_moved_asks_only_the_checkers_that_are_their_own_signal() -> (
    None
):
    signalled, own = SignalledChecker(), OwnSignalChecker()
    guard = ResourceGuard([signalled, own], notes=[])

    first = guard.snapshot()
    second = guard.snapshot()

    assert second is first
    assert first == {"signalled": {"signalled:1"}, "own": {"own:1"}}
    assert signalled.asked == 1
    assert own.asked == 2  # once per round, never twice


def test_a_moved_signal_makes_the_round_ask_again() -> None:
    signalled, own = SignalledChecker(), OwnSignalChecker()
    guard = ResourceGuard([signalled, own], notes=[])
    guard.snapshot()

    signalled.hold("signalled:1", "signalled:2")
    after = guard.snapshot()

    assert after["signalled"] == {"signalled:1", "signalled:2"}
    assert signalled.asked == 2
    assert guard.snapshot() is after  # quiet again


def test_a_checker_whose_own_answer_changes_makes_every_round_ask_everyone() -> None:
    own = OwnSignalChecker()
    signalled = SignalledChecker()
    guard = ResourceGuard([signalled, own], notes=[])
    guard.snapshot()

    own.held = frozenset({"own:1", "own:2"})
    after = guard.snapshot()

    assert after["own"] == {"own:1", "own:2"}
    assert signalled.asked == 2


def test_answers_that_are_new_sets_each_time_are_never_taken_as_unchanged() -> None:
    signalled, fresh = SignalledChecker(), OwnSignalChecker(fresh=True)
    guard = ResourceGuard([signalled, fresh], notes=[])

    for _ in range(3):
        assert guard.snapshot()["own"] == {"own:1"}

    assert signalled.asked == 3


def test_a_failing_signal_or_checker_is_never_a_reason_to_keep_old_answers() -> None:
    signalled = SignalledChecker()
    guard = ResourceGuard([signalled], notes=[])
    guard.snapshot()

    def broken() -> object:
        raise RuntimeError("signal broke")

    signalled.signals = (broken,)
    guard = ResourceGuard([signalled], notes=[])
    guard.snapshot()
    signalled.held = frozenset({"signalled:9"})  # no signal says so

    assert guard.snapshot()["signalled"] == {"signalled:9"}
    assert guard.notes == []  # a broken signal only costs the quiet round


def test_a_failing_checker_is_noted_and_asked_again_next_round() -> None:
    class Flaky(OwnSignalChecker):
        kind = "flaky"

        def snapshot(self) -> frozenset[str]:
            self.asked += 1
            if self.asked <= 2:  # asked as its own signal, then on its own
                raise OSError("vanished")
            return self.held

    flaky, signalled = Flaky(), SignalledChecker()
    guard = ResourceGuard([flaky, signalled], notes=[])

    assert guard.snapshot()["flaky"] == frozenset()
    assert guard.snapshot()["flaky"] == {"own:1"}
    assert signalled.asked == 2  # the failed round did not count as complete
    assert guard.notes == ["resource checker 'flaky' failed: OSError: vanished"]


@pytest.mark.parametrize("signals", [(), ("not callable",), [len]])
def test_malformed_signals_make_a_checker_its_own_signal(signals: object) -> None:
    signalled = SignalledChecker()
    signalled.signals = signals  # type: ignore[assignment]
    guard = ResourceGuard([signalled], notes=[])

    guard.snapshot()
    guard.snapshot()

    assert signalled.asked == 2
