"""Hostile tests and objects: the plugin reports, it never crashes or hangs the run."""

from __future__ import annotations

import pytest

HOSTILE_LEAKS = """
    import pytest
    from unittest.mock import MagicMock

    kept = []

    class Liar:
        @property
        def __class__(self):
            raise RuntimeError("no class for you")

    @pytest.mark.leakguard
    def test_leaks_magicmocks():
        kept.append(MagicMock())

    @pytest.mark.leakguard
    def test_leaks_objects_whose_class_lies():
        kept.append(Liar())

    @pytest.mark.leakguard
    def test_leaks_objects_without_weakref_support():
        kept.append((len(kept), "x" * 20))

    @pytest.mark.leakguard
    def test_leaks_a_very_deep_structure():
        deep = []
        for _ in range(20_000):
            deep = [deep]
        kept.append(deep)

    @pytest.mark.leakguard
    def test_leaks_a_very_wide_structure():
        kept.append({i: str(i) for i in range(20_000)})
"""


def test_hostile_leaked_objects_are_reported_without_internal_errors(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(HOSTILE_LEAKS)

    result = leakguard_pytester.runpytest_subprocess("--leakguard", timeout=300)

    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["5 tests checked (5 repeated), 5 leaked"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.no_fnmatch_line("*Traceback*pytest_leakguard*")


def test_a_million_small_objects_per_run_is_reported_in_bounded_time(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(
        """
        import pytest
        kept = []

        @pytest.mark.leakguard
        def test_million():
            kept.append([[] for _ in range(1_000_000)])
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", timeout=600)

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED * and 1000001 objects per run*"])


MISBEHAVING_TESTS = """
    import gc, os, sys, tracemalloc
    import pytest

    @pytest.mark.leakguard
    def test_calls_sys_exit():
        sys.exit(3)

    @pytest.mark.leakguard
    def test_stops_tracemalloc():
        tracemalloc.stop()

    @pytest.mark.leakguard
    def test_starts_tracemalloc_itself():
        tracemalloc.start(5)

    @pytest.mark.leakguard
    def test_disables_gc():
        gc.disable()
        try:
            assert [1] * 3
        finally:
            gc.enable()

    @pytest.mark.leakguard
    def test_forks():
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0

    @pytest.mark.leakguard
    def test_freezes_the_gc_itself():
        gc.freeze()
        gc.unfreeze()

    @pytest.mark.leakguard
    def test_fails_on_purpose():
        assert 1 == 2
"""


def test_misbehaving_tests_keep_their_own_outcomes(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(MISBEHAVING_TESTS)

    plain = leakguard_pytester.runpytest_subprocess("-p", "no:randomly")
    checked = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly", timeout=300
    )

    plain.assert_outcomes(passed=5, failed=2)
    checked.assert_outcomes(passed=5, failed=2)
    checked.stdout.no_fnmatch_line("*INTERNALERROR*")
    checked.stdout.no_fnmatch_line("*LEAKED*")


def test_a_test_closing_sys_stdout_has_the_same_outcome_as_without_the_plugin(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(
        """
        import sys
        import pytest

        @pytest.mark.leakguard
        def test_closes_stdout():
            sys.stdout.close()
        """
    )

    plain = leakguard_pytester.runpytest_subprocess("-p", "no:randomly")
    checked = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-p", "no:randomly"
    )

    assert checked.ret == plain.ret
    assert checked.parseoutcomes() == plain.parseoutcomes()
    checked.stdout.no_fnmatch_line("*INTERNALERROR*")


SMALL_SUITE = """
    import pytest
    kept = []

    @pytest.mark.leakguard
    def test_leaky():
        kept.append({"k": [len(kept)]})

    @pytest.mark.leakguard
    def test_clean():
        assert [1] * 3

    def test_failing():
        assert False
"""


@pytest.mark.parametrize(
    ("args", "env", "outcomes"),
    [
        (["-X", "dev"], {}, {"passed": 1, "failed": 2}),
        ([], {"PYTHONTRACEMALLOC": "25"}, {"passed": 1, "failed": 2}),
        (["-p", "no:cacheprovider"], {}, {"passed": 1, "failed": 2}),
        (["--import-mode=importlib"], {}, {"passed": 1, "failed": 2}),
        (["-x", "-p", "no:randomly"], {}, {"failed": 1}),
        (["-k", "clean"], {}, {"passed": 1}),
    ],
    ids=[
        "dev-mode",
        "pythontracemalloc",
        "no-cacheprovider",
        "importlib",
        "exitfirst",
        "keyword",
    ],
)
def test_common_pytest_modes_work_with_leakguard(
    leakguard_pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    outcomes: dict[str, int],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    leakguard_pytester.makepyfile(SMALL_SUITE)
    interpreter_args = [a for a in args if a in ("-X", "dev")]
    pytest_args = [a for a in args if a not in ("-X", "dev")]
    if interpreter_args:
        result = leakguard_pytester.run(
            *[
                __import__("sys").executable,
                "-X",
                "dev",
                "-m",
                "pytest",
                "--leakguard",
                *pytest_args,
            ]
        )
    else:
        # Plugins that import a lot (hypothesis) make a fully traced start slow.
        quiet = ["-p", "no:hypothesispytest", "-p", "no:memray"] if env else []
        result = leakguard_pytester.runpytest_subprocess(
            "--leakguard", *quiet, *pytest_args
        )

    result.assert_outcomes(**outcomes)
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_last_failed_reruns_only_the_leaky_and_failing_tests(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(SMALL_SUITE)
    leakguard_pytester.runpytest_subprocess("--leakguard")

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "--lf")

    result.assert_outcomes(failed=2)


def test_pytest_repeat_count_repeats_each_test_and_each_is_checked(
    leakguard_pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("pytest_repeat")
    leakguard_pytester.makepyfile(SMALL_SUITE)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--count=2", "-p", "no:randomly"
    )

    result.assert_outcomes(passed=2, failed=4)
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_rerunfailures_reruns_still_work_for_failing_tests(
    leakguard_pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("pytest_rerunfailures")
    leakguard_pytester.makepyfile(
        """
        import pytest
        attempts = []

        def test_flaky():
            attempts.append(1)
            assert len(attempts) >= 2

        @pytest.mark.leakguard
        def test_clean():
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--reruns=2", "-p", "no:randomly"
    )

    assert result.parseoutcomes() == {"passed": 2, "rerun": 1}
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    result.stdout.fnmatch_lines(
        ["note: 2 tests that pytest-rerunfailures may rerun were not checked*"]
    )
