"""A test's starting snapshot, taken over from where the previous test ended.

Between two tests only pytest's reporting runs: the previous test's reports
are logged, the next test's start is.  When that is all that can have run,
the snapshot taken after one test's teardown is still true before the next
test's setup, and taking it again would only cost time (a third of what the
resource check adds to a quick test).

It is still true only if nobody else ran code in between, so the snapshot is
taken over only when

* the test is the one the previous check was told comes next;
* every implementation of the hooks that run between two tests
  (:data:`HOOKS_BETWEEN_TESTS`) is pytest's, pytest-xdist's worker's,
  leakguard's own or one read and found harmless (:data:`REVIEWED`): any
  other plugin or conftest (pytest-timeout installs its alarm there) makes
  every test take its own snapshot;
* no descriptor was opened, no process spawned and no thread started since,
  by any thread (the audit hook counts them: a fixture's server thread
  accepting a connection meanwhile);
* no library that creates process-wide resources on first use was imported
  since (:mod:`.resources.lazy_globals` must set it up before a snapshot).

Otherwise the descriptor table alone is taken over when the count allows it,
as before: it is checked against the kernel's descriptor count.
"""

from __future__ import annotations

from typing import Any

import pytest

from .resources import lazy_globals, sites

#: Hooks that pytest calls between one test's teardown and the next one's
#: setup (``pytest_runtest_protocol`` wrappers run around both).
HOOKS_BETWEEN_TESTS = (
    "pytest_runtest_protocol",
    "pytest_runtest_logstart",
    "pytest_runtest_logreport",
    "pytest_runtest_logfinish",
    "pytest_report_teststatus",
)
#: Modules whose hook implementations open, start and register nothing
#: between tests: pytest's own, pytest-xdist's worker (it sends the reports
#: over a channel that is already open), leakguard's.
TRUSTED_MODULES = ("_pytest.", "xdist.remote", "pytest_leakguard.")
#: Other plugins' implementations read and found to only look at reports
#: (pytest-rerunfailures' protocol runs only for the tests leakguard leaves
#: to it, and those hand nothing over).
REVIEWED = frozenset(
    {
        ("pytest_rerunfailures", "pytest_runtest_protocol"),
        ("pytest_rerunfailures", "pytest_runtest_logreport"),
        ("pytest_rerunfailures", "pytest_report_teststatus"),
        ("pytest_memray.plugin", "pytest_report_teststatus"),
    }
)


class Handoff:
    """What one clean check leaves for the test it was told comes next
    (a plain class: a NamedTuple costs a fifth of a millisecond to define)."""

    __slots__ = ("item", "activity", "snapshot", "fd_table")

    def __init__(
        self,
        item: object | None,  # the next item, compared by identity
        activity: int,
        snapshot: dict[str, frozenset[str]],
        fd_table: Any,
    ) -> None:
        self.item = item
        self.activity = activity  # sites.activity() at the snapshot, never -1
        self.snapshot = snapshot
        self.fd_table = fd_table


class QuietGap:
    """Whether only trusted code runs between two tests; cached, and
    recomputed after every plugin registration (a conftest, a plugin that
    a test registers)."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._quiet: bool | None = None

    def invalidate(self) -> None:
        self._quiet = None

    def __bool__(self) -> bool:
        if self._quiet is None:
            self._quiet = _only_trusted_hooks(self._config)
        return self._quiet


def _only_trusted_hooks(config: pytest.Config) -> bool:
    for name in HOOKS_BETWEEN_TESTS:
        caller = getattr(config.hook, name, None)
        if caller is None:
            continue
        for impl in caller.get_hookimpls():
            module = getattr(impl.function, "__module__", None) or ""
            if (
                not module.startswith(TRUSTED_MODULES)
                and (module, name) not in REVIEWED
            ):
                return False
    return True


def starting_point(
    handoff: Handoff | None, item: object, gap: QuietGap | bool
) -> tuple[dict[str, frozenset[str]] | None, Any]:
    """(the whole starting snapshot, or None; else a descriptor table or None).

    :param handoff: what the previous check left, if it was clean.
    :param item: the test about to be checked (an item's nodeid is rebuilt
        on every access, an identity test is free).
    :param gap: whether only trusted code ran since (see :class:`QuietGap`).
    """
    if (
        handoff is None
        or handoff.item is not item
        or handoff.activity != sites.activity()
    ):
        return None, None
    if gap and not lazy_globals.due():
        return handoff.snapshot, None
    return None, handoff.fd_table
