"""pytest entry point: connects pytest's hooks to leakguard's pieces.

Without ``--leakguard`` (or ``--leakguard-all``, or ``leakguard = true`` in
the ini file) only the options and markers are registered: tests run exactly
as they would without the plugin, and objgraph and pympler are not imported.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

import pytest

from . import hookspecs, markers, options
from . import report as reporting
from .budget import measuring_peak
from .options import Settings
from .runner import logged_during_runs_key, note_fixture_setup

# On Item.stash: how the item is checked (absent: not checked).
mark_spec_key = pytest.StashKey["markers.MarkSpec"]()
# On Config.stash: the active session plugin.
session_key = pytest.StashKey["LeakGuardPlugin"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    options.register(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)  # always, so --strict-markers users are fine
    settings = Settings.from_config(config)
    if not settings.enabled:
        return
    plugin = LeakGuardPlugin(config, settings)
    config.stash[session_key] = plugin
    config.pluginmanager.register(plugin, "leakguard-session")


BUDGET_PLUGIN = "leakguard-peak-budget"
STATUS_PLUGIN = "leakguard-status"
RECORDER_PLUGIN = "leakguard-recorder"


class LeakStatus:
    """The ``L``/``K``/``B``/``N`` status of checked tests' reports;
    registered only once a report needs one."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> tuple[str, str, str] | None:
        result = getattr(report, "leakguard", None)
        if not result:
            return None
        if report.passed and result.get("leaked"):
            return reporting.KNOWN_STATUS
        if not report.failed:
            return None
        if result.get("leaked"):
            kinds = {leak["kind"] for leak in result["leaks"]}
            return (
                reporting.OVER_BUDGET_STATUS
                if kinds == {"peak-memory"}
                else reporting.STATUS
            )
        if result.get("not_repeatable"):
            return reporting.NOT_REPEATABLE_STATUS
        return None


class PeakBudget:
    """Measures the call phase's peak; registered only when a test has a budget."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        spec = item.stash.get(mark_spec_key, None)
        if spec is None or not spec.settings.max_memory:
            return (yield)
        with measuring_peak(item):
            return (yield)


class ReportRecorder:
    """Records the reports that do not come out of leakguard's protocol:
    pytest-xdist's workers' on the controller, unchecked tests', subtests'
    logged from inside a repeated run.  Registered only when some may: a
    hook implementation costs every report of every test a call."""

    def __init__(self, plugin: LeakGuardPlugin) -> None:
        from .marking import restore_repr  # not on the plugin's import path

        self._plugin = plugin
        self._restore_repr = restore_repr

    @pytest.hookimpl(tryfirst=True)  # before the terminal asks for the status
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        state = self._plugin.state
        nodeid = report.nodeid
        if nodeid == state.current_nodeid:
            # Logged from inside a run (subtests): every repetition would log
            # its reports again, and pytest would keep them all.
            current = state.current
            if current is not None:
                current.stash[logged_during_runs_key] = True
            return
        self._restore_repr(report)
        self._plugin.show_status_of(getattr(report, "leakguard", None))
        state.results.record(report, nodeid)


class LeakGuardPlugin:
    """Session state and the per-test hooks; registered only when enabled."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        from .session import SessionState

        self.config = config
        self.settings = settings
        self.state = SessionState(config, settings)
        #: Whether a :class:`ReportRecorder` records every logged report.
        self.recorder = False

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Validate every marker before any test runs; a bad one stops the run."""
        stepped_aside, budgets, logged_elsewhere = 0, False, False
        reruns = self.config.pluginmanager.get_plugin("rerunfailures")
        lookup, validated = markers.SpecLookup(self.settings), None
        for item in items:
            spec = lookup.spec_for(item)
            if spec is not None and reruns is not None and _rerun_by(reruns, item):
                stepped_aside += 1
                spec = None
            if spec is None:
                logged_elsewhere = (
                    True  # pytest's protocol runs it and logs its reports
                )
                continue
            if spec is not validated:  # unmarked tests share one spec
                self.state.validate(item, spec)
                validated = spec
            item.stash[mark_spec_key] = spec
            budgets = budgets or bool(spec.settings.max_memory)
            # A repeated test's subtests log their reports from inside its runs.
            logged_elsewhere = logged_elsewhere or bool(spec.repeat)
        if budgets and not self.config.pluginmanager.has_plugin(BUDGET_PLUGIN):
            # Only then: a wrapper on every test's call costs every test.
            self.config.pluginmanager.register(PeakBudget(), BUDGET_PLUGIN)
        if logged_elsewhere:
            self._record_logged_reports()
        if stepped_aside:
            self.state.notes.append(
                f"{stepped_aside} tests that pytest-rerunfailures may rerun were not checked "
                "(both plugins run a test several times; use -p no:rerunfailures to check them)"
            )

    def pytest_plugin_registered(self, plugin: object) -> None:
        """The new plugin may run code between tests: look at the hooks again
        (and it may run tests its own way: their reports are then logged).
        Called for every plugin registered before this one too (historic)."""
        self.state.quiet_gap.invalidate()
        if _runs_tests(plugin):
            self._record_logged_reports()

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        if self.config.pluginmanager.has_plugin("dsession"):
            # pytest-xdist's controller: the workers' reports arrive logged.
            self._record_logged_reports()
        if self.settings.resources:
            _ = self.state.guard  # build the checkers before any test runs

    def _record_logged_reports(self) -> None:
        if not self.recorder:
            self.recorder = True
            self.config.pluginmanager.register(ReportRecorder(self), RECORDER_PLUGIN)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        spec = item.stash.get(mark_spec_key, None)
        if spec is None:
            return None
        ihook = item.ihook  # a lookup by path each time it is asked for
        nodeid, location = item.nodeid, item.location  # both built on access
        ihook.pytest_runtest_logstart(nodeid=nodeid, location=location)
        reports = self.state.check(item, nextitem, spec, nodeid)
        if not self.recorder:  # recorded here, before the terminal logs them
            self.show_status_of(self.state.results.record_checked(reports, nodeid))
        for rep in reports:
            ihook.pytest_runtest_logreport(report=rep)
        ihook.pytest_runtest_logfinish(nodeid=nodeid, location=location)
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        if fixturedef.scope == "function":  # most fixtures: their test's own
            return (yield)
        note_fixture_setup(fixturedef)
        with self.state.fixture_setup(fixturedef):
            return (yield)

    def pytest_fixture_post_finalizer(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> None:
        self.state.fixture_finished(fixturedef, request.node)

    def show_status_of(self, result: dict[str, Any] | None) -> None:
        """Register the status letters once the first test needs one (its
        ``result`` leaked or is not repeatable), before pytest logs its
        reports: a hook implementation costs every report of every test a call."""
        if not result or not (result.get("leaked") or result.get("not_repeatable")):
            return
        manager = self.config.pluginmanager
        if not manager.has_plugin(STATUS_PLUGIN):
            manager.register(LeakStatus(), STATUS_PLUGIN)

    @pytest.hookimpl(optionalhook=True)  # pytest-xdist's controller only
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """A worker finished: its notes are printed here, with the others."""
        self.state.worker_finished(getattr(node, "workeroutput", None))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        self.state.terminal_summary(terminalreporter)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self.state.session_finished(session)

    @pytest.hookimpl(trylast=True)
    def pytest_leakguard_ignore_resource(
        self, resource: Any, item: pytest.Item
    ) -> bool | None:
        """pytest's own lazy set-up (its atexit cleanup of tmp dirs, say) is not the test's."""
        return _created_by_pytest(resource.site) or None

    @pytest.hookimpl(trylast=True)
    def pytest_leakguard_resource_checkers(self, config: pytest.Config) -> list[Any]:
        from .resources import builtin_checkers

        return builtin_checkers()


# A site inside pytest's or pluggy's own package, absolute or relative.
_PYTEST_SITE = (
    r"(?:^|[/\\])(?:_pytest|pluggy)[/\\]"  # compiled on first use (re caches it)
)


def _created_by_pytest(site: str | None) -> bool:
    return bool(site and re.search(_PYTEST_SITE, site))


def _runs_tests(plugin: object) -> bool:
    """Whether ``plugin`` has its own ``pytest_runtest_protocol`` (not a
    wrapper), other than pytest's runner's and leakguard's."""
    protocol = getattr(plugin, "pytest_runtest_protocol", None)
    if protocol is None:
        return False
    options = getattr(protocol, "pytest_impl", None) or {}
    module = getattr(protocol, "__module__", None) or ""
    return not (
        options.get("wrapper")
        or options.get("hookwrapper")
        or module in _OWN_PROTOCOLS
        or module.startswith("pytest_leakguard.")
    )


#: Modules whose ``pytest_runtest_protocol`` runs no test that leakguard
#: checks (pytest-rerunfailures' runs only those leakguard leaves to it).
_OWN_PROTOCOLS = ("_pytest.runner", "pytest_rerunfailures")


def _rerun_by(plugin: object, item: pytest.Item) -> bool:
    """Whether pytest-rerunfailures (``plugin``) would take over this item's protocol."""
    count = getattr(plugin, "get_reruns_count", None)
    if count is None:
        return False
    try:
        return bool(count(item))
    except Exception:  # another version of its API: do not guess
        return False
