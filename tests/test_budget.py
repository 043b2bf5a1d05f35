"""Peak-memory budgets: loading too much at once fails, with the sites at the peak."""

from __future__ import annotations

import pytest

from pytest_leakguard.units import format_limit, format_size, parse_size

LOADS = """
    import pytest

    def load_all_rows():
        return [str(i) * 10 for i in range(100_000)]

    @pytest.mark.leakguard(max_memory="2 MB")
    def test_loads_everything():
        assert len(load_all_rows()) == 100_000

    @pytest.mark.leakguard(max_memory="64 MiB")
    def test_within_budget():
        assert load_all_rows()

    def test_small():
        assert [1] * 10
"""


def test_peak_over_the_budget_fails_and_names_the_allocation_site(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(LOADS)

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "OVER BUDGET peak * MiB during the call exceeds the budget of 2 MB",
            "Allocated at the peak (still allocated when memory was highest):",
            "  *.py:4 * MiB  return [[]str(i) * 10 for i in range(100_000)]",
            "OVER BUDGET *::test_loads_everything - peak * MiB during the call exceeds the budget of 2 MB",
        ]
    )


def test_ini_budget_applies_to_every_checked_test(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makeini(
        "[pytest]\nconsole_output_style = classic\nasyncio_default_fixture_loop_scope = function\nleakguard_max_memory = 1 MB\n"
    )
    leakguard_pytester.makepyfile(LOADS)

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    # the marker's 64 MiB wins for test_within_budget; test_small is far below 1 MB
    result.assert_outcomes(passed=2, failed=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512", 512),
        ("64 KiB", 65536),
        ("1.5 MB", 1_500_000),
        ("2GB", 2 * 10**9),
        ("3 gib", 3 * 2**30),
        (7, 7),
    ],
)
def test_sizes_accept_decimal_and_binary_units(text: str | int, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["12 XB", "", "MB", "-5", "1e3", True, None, [1], -1])
def test_malformed_sizes_are_rejected_with_the_value_in_the_message(
    bad: object,
) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(bad)


def test_sizes_print_as_binary_and_budgets_as_written() -> None:
    assert format_size(1536) == "1.5 KiB"
    assert format_size(-64) == "-64 B"
    assert format_limit(50_000_000) == "50 MB"
    assert format_limit(3 * 2**20) == "3.0 MiB"
