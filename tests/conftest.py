"""Shared fixtures: an inner pytest suite that loads leakguard from its entry point."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

INNER_INI = """
[pytest]
console_output_style = classic
asyncio_default_fixture_loop_scope = function
"""


@pytest.fixture
def leakguard_pytester(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A pytester whose inner runs are isolated from the developer's shell."""
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("PYTHONTRACEMALLOC", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    pytester.makeini(INNER_INI)
    return pytester
