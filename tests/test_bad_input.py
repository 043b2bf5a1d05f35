"""Every user-supplied value, tried systematically: accepted, or a clear error naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_leakguard import baseline, markers, options
from pytest_leakguard.resources.guard import parse_allow_rules
from pytest_leakguard.units import parse_size

ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@given(ANY_VALUE)
def test_size_values_are_bytes_or_a_value_error_naming_them(value: object) -> None:
    try:
        size = parse_size(value)
    except ValueError as exc:
        assert repr(value) in str(exc)
    else:
        assert isinstance(size, int)
        assert size >= 0


@pytest.mark.parametrize(
    "validator",
    [
        options.positive_int,
        options.non_negative_int,
        options.non_negative_float,
        options.size,
        options.mode,
        options.tracing,
    ],
)
@given(value=ANY_VALUE)
def test_option_validators_accept_or_name_the_bad_value(
    validator: object, value: object
) -> None:
    try:
        validator(value)  # type: ignore[operator]
    except ValueError as exc:
        assert repr(value) in str(exc) or str(value) in str(exc)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "runs",
                "warmup",
                "max_runs",
                "min_bytes",
                "min_objects",
                "mode",
                "tracing",
                "resources",
                "max_memory",
                "ignore_types",
                "allow",
                "bogus",
            ]
        ),
        ANY_VALUE,
        max_size=4,
    )
)
def test_marker_arguments_are_validated_by_signature_never_crashing(
    kwargs: dict[str, object],
) -> None:
    try:
        markers.leakguard(**kwargs)  # type: ignore[arg-type]
    except TypeError as exc:
        assert "bogus" in str(exc) or "iterable" in str(exc) or "not" in str(exc)
    except ValueError as exc:
        assert str(exc)


@given(st.lists(st.text(max_size=20), max_size=4))
def test_allow_entries_are_rules_or_an_error_naming_the_entry(lines: list[str]) -> None:
    try:
        rules = parse_allow_rules(lines, ["socket", "thread"], "ini leakguard_allow")
    except ValueError as exc:
        assert "ini leakguard_allow" in str(exc)
        assert any(repr(line) in str(exc) for line in lines)
    else:
        assert len(rules) == len(lines)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(
    document=st.one_of(
        JSONISH, st.fixed_dictionaries({"version": st.integers(0, 2), "leaks": JSONISH})
    )
)
def test_any_baseline_document_loads_or_is_a_baseline_error(
    tmp_path: Path, document: object
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(document))
    try:
        loaded = baseline.load(str(path))
    except baseline.BaselineError as exc:
        assert str(path) in str(exc)
    else:
        assert isinstance(loaded.entries, list)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=30)
@given(content=st.binary(max_size=200))
def test_truncated_or_binary_baseline_files_are_baseline_errors(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(content)
    try:
        baseline.load(str(path))
    except baseline.BaselineError as exc:
        assert "baseline file" in str(exc)


def test_a_huge_baseline_loads(tmp_path: Path) -> None:
    leaks = [
        {
            "nodeid": f"tests/test_x.py::test_{i}",
            "kind": "objects",
            "fingerprint": "objects:dict",
        }
        for i in range(50_000)
    ]
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"version": 1, "leaks": leaks}))

    loaded = baseline.load(str(path))

    assert len(loaded.entries) == 50_000
