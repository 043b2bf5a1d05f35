"""Options, ini keys and markers: help, precedence, and bad values named clearly."""

from __future__ import annotations

import json

import pytest


def test_help_lists_the_leakguard_group_and_ini_keys(
    leakguard_pytester: pytest.Pytester,
) -> None:
    result = leakguard_pytester.runpytest("--help")

    result.stdout.fnmatch_lines(
        [
            "pytest-leakguard: fail tests that leak:",
            "*--leakguard *check the tests marked*",
            "*--leakguard-all*",
            "*--leakguard-runs=*",
            "*--leakguard-json=PATH*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*leakguard_runs (string)*", "*leakguard_allow (linelist)*"]
    )


def test_markers_are_documented_for_strict_markers(
    leakguard_pytester: pytest.Pytester,
) -> None:
    result = leakguard_pytester.runpytest("--markers")

    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.leakguard(runs=None, warmup=None, *): Repeat this test and fail it if its memory keeps growing.",
            "@pytest.mark.no_leakguard(reason=''): Do not check this test at all*",
        ]
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--leakguard-runs=0", "*--leakguard-runs: '0' must be a positive integer*"),
        ("--leakguard-runs=many", "*--leakguard-runs: 'many' is not an integer*"),
        (
            "--leakguard-min-bytes=12 XB",
            "*--leakguard-min-bytes: invalid size '12 XB'*KiB*",
        ),
        (
            "--leakguard-mode=fast",
            "*--leakguard-mode: 'fast' is not a mode: use one of 'item', 'call'*",
        ),
        (
            "--leakguard-tracing=never",
            "*--leakguard-tracing: 'never' is not a tracing choice: use one of 'auto', 'always'*",
        ),
        (
            "--leakguard-settle-time=-1",
            "*--leakguard-settle-time: *must be a finite number*",
        ),
    ],
)
def test_bad_command_line_values_are_argparse_errors_naming_the_value(
    leakguard_pytester: pytest.Pytester, option: str, message: str
) -> None:
    result = leakguard_pytester.runpytest("--leakguard", option)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("ini", "message"),
    [
        (
            "leakguard_runs = -2",
            "*invalid leakguard_runs '-2' in ini: '-2' must be a positive integer*",
        ),
        (
            "leakguard_min_bytes = lots",
            "*invalid leakguard_min_bytes 'lots' in ini: invalid size 'lots'*",
        ),
        ("leakguard = perhaps", "*invalid*perhaps*"),
    ],
)
def test_bad_ini_values_are_usage_errors_naming_the_key(
    leakguard_pytester: pytest.Pytester, ini: str, message: str
) -> None:
    leakguard_pytester.makeini(
        f"[pytest]\nasyncio_default_fixture_loop_scope = function\n{ini}\n"
    )
    leakguard_pytester.makepyfile("def test_x(): pass")

    result = leakguard_pytester.runpytest("--leakguard")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "leakguard(runs=0)",
            "*test_x: invalid @pytest.mark.leakguard(runs=0): 0 must be a positive integer*",
        ),
        (
            "leakguard(5)",
            "*test_x: invalid @pytest.mark.leakguard(5): leakguard() takes 0 positional arguments*",
        ),
        (
            "leakguard(rnus=5)",
            "*test_x: invalid @pytest.mark.leakguard(rnus=5): *unexpected keyword argument 'rnus'*",
        ),
        ("leakguard(min_bytes='12 XB')", "*invalid size '12 XB'*"),
        (
            "leakguard(ignore_types=[1])",
            "*ignore_types entries must be strings, got 1*",
        ),
        (
            "leakguard(allow=['nope'])",
            "*invalid allow entry 'nope'*expected 'kind:pattern'*",
        ),
        (
            "no_leakguard(reason=3)",
            "*invalid @pytest.mark.no_leakguard(reason=3): reason=3 must be a string*",
        ),
    ],
)
def test_malformed_marker_arguments_stop_the_run_before_any_test(
    leakguard_pytester: pytest.Pytester, marker: str, message: str
) -> None:
    leakguard_pytester.makepyfile(
        f"""
        import pytest
        RAN = []

        def test_first():
            RAN.append(1)

        @pytest.mark.{marker}
        def test_x():
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.TESTS_FAILED)
    assert result.ret == pytest.ExitCode.USAGE_ERROR or "allow" in marker
    (
        result.stderr if result.ret == pytest.ExitCode.USAGE_ERROR else result.stdout
    ).fnmatch_lines([message])
    result.stdout.no_fnmatch_line("*test_first PASSED*")


def test_marker_beats_command_line_which_beats_ini(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nconsole_output_style = classic\nleakguard_runs = 2\nleakguard_warmup = 2\n"
        # every run traced: no screen that could ask for more runs
        "leakguard_tracing = always\n"
    )
    leakguard_pytester.makepyfile(
        """
        import pytest
        COUNTS = {"marker": 0, "cli": 0}

        @pytest.mark.leakguard(runs=6)
        def test_marker():
            COUNTS["marker"] += 1

        @pytest.mark.leakguard
        def test_cli():
            COUNTS["cli"] += 1

        def test_report():
            print("COUNTS", COUNTS["marker"], COUNTS["cli"])
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "--leakguard-runs=4",
        "--leakguard-max-runs=4",
        "-s",
        "-p",
        "no:randomly",
    )

    result.assert_outcomes(passed=3)
    # warm-up 2 from ini, runs from marker / CLI
    result.stdout.fnmatch_lines(["*COUNTS 8 6*"])


def test_ini_can_turn_leakguard_on_for_ci(leakguard_pytester: pytest.Pytester) -> None:
    leakguard_pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\nconsole_output_style = classic\nleakguard = true\n"
    )
    leakguard_pytester.makepyfile(
        """
        import pytest
        kept = []

        @pytest.mark.leakguard
        def test_leaks():
            kept.append({"a": [1]})
        """
    )

    result = leakguard_pytester.runpytest_subprocess()

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["LEAKED *::test_leaks - *"])


def test_module_class_and_test_markers_combine_closest_first(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leak_fd = "os.open(os.devnull, os.O_RDONLY)"  # a descriptor, nothing held in memory
    leakguard_pytester.makepyfile(
        test_marked=f"""
        import os
        import pytest

        pytestmark = pytest.mark.leakguard(resources=False)

        def test_module_marker():
            {leak_fd}

        @pytest.mark.no_leakguard(reason="the class opts out")
        class TestOptedOut:
            def test_first(self):
                {leak_fd}

            def test_second(self):
                pass

        class TestOwnMarker:
            @pytest.mark.leakguard(resources=True)
            def test_closest_wins(self):
                {leak_fd}

            def test_inherits(self):
                {leak_fd}
        """,
        test_unmarked=f"""
        import os
        import pytest

        def test_unmarked():
            {leak_fd}

        @pytest.mark.no_leakguard
        def test_opted_out():
            {leak_fd}

        def test_unmarked_clean():
            pass
        """,
    )

    # In a subprocess: an inline run's hook recorder grows with every run.
    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=out.json", "-p", "no:randomly"
    )

    result.assert_outcomes(passed=6, failed=2)
    tests = {
        t["nodeid"].split("::", 1)[1]: t
        for t in json.loads((leakguard_pytester.path / "out.json").read_text())["tests"]
    }
    assert {name for name, t in tests.items() if t["leaked"]} == {
        "TestOwnMarker::test_closest_wins",
        "test_unmarked",
    }
    assert {name for name, t in tests.items() if t.get("memory")} == {
        "test_module_marker",
        "TestOwnMarker::test_closest_wins",
        "TestOwnMarker::test_inherits",
    }
    assert {name for name, t in tests.items() if not t["checked"]} == {
        "TestOptedOut::test_first",
        "TestOptedOut::test_second",
        "test_opted_out",
    }
