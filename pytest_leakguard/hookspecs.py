"""Hooks through which a conftest or a plugin extends leakguard.

The built-in resource checkers are added through the same hook, by the plugin
itself, so a project's own checker is a first-class citizen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .resources import Resource, ResourceChecker


@pytest.hookspec
def pytest_leakguard_resource_checkers(config: pytest.Config) -> list[ResourceChecker]:
    """Return resource checkers to run around every checked test.

    Called once per session; every implementation's list is used.  A checker
    has a ``kind``, a cheap ``snapshot()`` of string identities and a
    ``describe(keys)`` for leftovers, and may have ``signals`` (see
    ``pytest_leakguard.ResourceChecker``).

    Example, a blinker receiver registry::

        def pytest_leakguard_resource_checkers(config):
            return [BlinkerReceivers(my_app.signals.request_started)]
    """


@pytest.hookspec(firstresult=True)
def pytest_leakguard_ignore_resource(
    resource: Resource, item: pytest.Item
) -> bool | None:
    """Return True to allow ``resource``, left open by ``item``, to stay open.

    Called for every leftover resource after the ini and marker allowlists.
    Return None to leave the decision to other implementations.

    Example::

        def pytest_leakguard_ignore_resource(resource, item):
            if resource.kind == "thread" and "metrics-flusher" in resource.description:
                return True
    """


@pytest.hookspec(firstresult=True)
def pytest_leakguard_ignore_type(type_name: str, item: pytest.Item) -> bool | None:
    """Return True to never report objects of ``type_name`` as growing in ``item``.

    Example::

        def pytest_leakguard_ignore_type(type_name, item):
            return type_name.startswith("sqlalchemy.") or None
    """
