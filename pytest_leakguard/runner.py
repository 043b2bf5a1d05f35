"""The repeat-runner: runs one item several times without logging each run.

This is the only module that touches pytest internals; each use says why.
A checked item runs ``warmup`` unmeasured runs, then ``runs`` measured runs
(more when the evidence is mixed), and only the reports of its last run are
logged, so every reporter sees the test once.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import operator
import sys
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

# Private: pytest has no public API to run an item's protocol without logging
# it, which repeating a test needs (pytest-rerunfailures and pytest-repeat use
# the same two functions).
import _pytest.runner as _pytest_runner
import pytest
from _pytest.runner import CallInfo, call_and_report, runtestprotocol

if TYPE_CHECKING:
    from .resources import Resource
    from .resources.unclosed import ResourceWarningCapture

Reports = list[pytest.TestReport]

# On Item.stash: reports were logged while the item ran (subtests do that).
logged_during_runs_key = pytest.StashKey[bool]()

# Broader-scoped fixture definitions seen being set up (weakly: pytest owns them).
_BROADER_FIXTUREDEFS: weakref.WeakSet[pytest.FixtureDef[Any]] = weakref.WeakSet()


def passed(reports: Reports) -> bool:
    """Every phase passed (an xfail/xpass counts as not passed: not judged)."""
    return all(r.passed and not hasattr(r, "wasxfail") for r in reports)


class ItemDriver:
    """Runs the whole item (setup, call, teardown) once per ``run``.

    Between runs only the item itself is torn down: the teardown is told that
    the next item is the test's parent, so module-, class- and session-scoped
    fixtures stay set up, as they would for the next test in the same module.
    """

    def __init__(self, item: pytest.Item, resources: bool = False) -> None:
        self.item = item
        self._user_properties = list(item.user_properties)
        self.warnings = HeldWarnings(resources)
        self._session_properties: SessionProperties | None = None

    def _forget_previous_run(self) -> None:
        """Undo what the previous run appended to the item and the session."""
        _reset_per_run_state(self.item, self._user_properties)
        self.keep_newest_properties()

    def keep_newest_properties(self) -> None:
        """The session's JUnit properties: once each (see SessionProperties)."""
        if self._session_properties is None:  # before the first run: the start
            self._session_properties = SessionProperties(self.item.config)
        else:
            self._session_properties.keep_newest()

    def start(self) -> Reports:
        return []

    def run(self) -> Reports:
        """One run, torn down to the item alone."""
        # nextitem is only used for its listchain(); the parent's chain keeps
        # every broader scope set up and tears down the item alone.
        return self._run(self.item.parent)  # type: ignore[arg-type]

    def run_once(self, nextitem: pytest.Item | None) -> Reports:
        """The only run (a second run, a run to find a peak): torn down as far
        as the next item needs, through the teardown hooks, as pytest's own
        run of the item was (see :meth:`finish`)."""
        return self._run(nextitem)

    def _run(self, nextitem: pytest.Item | None) -> Reports:
        self._forget_previous_run()
        with self.warnings.capture():
            reports = runtestprotocol(self.item, nextitem=nextitem, log=False)
        _prune_stale_finalizers(self.item)
        return reports

    def finish(self, nextitem: pytest.Item | None) -> Reports:
        """Tear down the broader scopes that the next item does not share.

        A plugin may follow the scopes through the teardown hooks
        (SQLAlchemy's disposes of a class's database when the next item is
        not in the class): with one, the scopes end as pytest would end
        them, in one more run torn down for the real next item, even after
        a failed run (unwound without the hooks, SQLAlchemy's class
        tracking lost count and every later class failed).  Otherwise the
        stack is only unwound, and a failure becomes the item's teardown
        report.
        """
        item = self.item
        needed = nextitem.listchain() if nextitem is not None else []
        # Private: the setup stack says which scopes are still set up.
        setupstate = item.session._setupstate
        stack = list(setupstate.stack)
        if stack == needed[: len(stack)]:
            return []
        if _scopes_followed_by_hooks(item):
            with failures_unseen():
                reports = self._run(nextitem)
            return [r for r in reports if r.when == "teardown" and r.failed]
        with self.warnings.capture():
            call = CallInfo.from_call(
                lambda: setupstate.teardown_exact(nextitem),
                when="teardown",
                reraise=(pytest.exit.Exception, KeyboardInterrupt),
            )
        if call.excinfo is None:
            return []
        return [item.ihook.pytest_runtest_makereport(item=item, call=call)]


class CallDriver(ItemDriver):
    """Sets the item up once, repeats its call, tears it down once (faster)."""

    def start(self) -> Reports:
        item = self.item
        # Private: runtestprotocol creates the fixture request this way.
        if hasattr(item, "_request") and not item._request:
            item._initrequest()  # type: ignore[attr-defined]
        with self.warnings.capture():
            return [call_and_report(item, "setup", log=False)]

    def run(self) -> Reports:
        self._forget_previous_run()
        with self.warnings.capture():
            return [call_and_report(self.item, "call", log=False)]

    def finish(self, nextitem: pytest.Item | None) -> Reports:
        item = self.item
        with self.warnings.capture():
            report = call_and_report(item, "teardown", log=False, nextitem=nextitem)
        if hasattr(item, "_request"):
            item._request = False  # as runtestprotocol does after teardown
            item.funcargs = None  # type: ignore[attr-defined]
        return [report]


def _scopes_followed_by_hooks(item: pytest.Item) -> bool:
    """Whether a plugin or conftest other than pytest's own implements the
    teardown hook (pytest's own only capture and collect what it raises)."""
    for impl in item.ihook.pytest_runtest_teardown.get_hookimpls():
        plugin = impl.plugin
        module = getattr(plugin, "__name__", None) or type(plugin).__module__
        if not (module == "_pytest" or module.startswith("_pytest.")):
            return True
    return False


@contextmanager
def failures_unseen() -> Iterator[None]:
    """Runs whose failures are never reported (explaining a leak, filling a
    cache) must not look like failures to anyone: no ``--pdb`` prompt, no
    ``pytest_exception_interact`` (pytest-timeout resets SIGALRM on it).

    Private: ``call_and_report`` asks ``check_interactive_exception`` first.
    """
    original = _pytest_runner.check_interactive_exception
    _pytest_runner.check_interactive_exception = _never_interactive
    try:
        yield
    finally:
        _pytest_runner.check_interactive_exception = original


def _never_interactive(call: object, report: object) -> bool:
    return False


def _warning_capture() -> type[ResourceWarningCapture]:
    """The capture class, imported once (an import statement costs every test)."""
    global _capture_class
    if _capture_class is None:
        from .resources.unclosed import ResourceWarningCapture

        _capture_class = ResourceWarningCapture
    return _capture_class


_capture_class: type[ResourceWarningCapture] | None = None


def make_driver(item: pytest.Item, mode: str, resources: bool = False) -> ItemDriver:
    if mode == "call" and hasattr(item, "_request"):
        return CallDriver(item, resources)
    return ItemDriver(item, resources)


def run_unchecked(item: pytest.Item, nextitem: pytest.Item | None) -> Reports:
    """The one run of an unrepeated test whose resources are not checked."""
    return runtestprotocol(item, nextitem=nextitem, log=False)


def run_single(
    item: pytest.Item, nextitem: pytest.Item | None
) -> tuple[Reports, list[Resource], int]:
    """The one run of an unrepeated test whose resources are checked.

    pytest's own protocol, then the young garbage is collected (see
    :func:`collect_young_garbage`); ResourceWarnings of both are caught and
    described at once, other warnings go straight to pytest's capture.  No
    driver: this runs for every test, and each object made costs.

    :returns: the reports, the unclosed resources, how many warnings.
    """
    start_noting_collections()
    with _warning_capture()() as dropped:
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
        collect_young_garbage()
    if not dropped:
        return reports, [], 0
    from .resources.unclosed import describe_resource_warning

    unclosed = [describe_resource_warning(record) for record in dropped]
    count = len(dropped)
    dropped.clear()  # the records hold the dying objects
    return reports, unclosed, count


def _prune_stale_finalizers(item: pytest.Item) -> None:
    """Drop what this run's function-scoped fixtures left on broader ones.

    pytest registers, on every broader fixture a function-scoped fixture
    depends on (``tmp_path`` -> ``tmp_path_factory``), a finalizer that would
    finish the function-scoped one again at session end.  Once the test's own
    teardown ran they only pile up, one per run: pytest's bookkeeping, not the
    test's leak.
    """
    try:
        for fixturedef in list(_BROADER_FIXTUREDEFS):
            if fixturedef.cached_result is None:
                continue
            finalizers = fixturedef._finalizers  # private: list of callables
            finalizers[:] = [f for f in finalizers if not _finishes_this_item(f, item)]
    except (
        AttributeError,
        TypeError,
    ):  # another pytest version: only precision is lost
        pass


def note_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> None:
    """Remember a broader-scoped fixture, whose finalizers the runs may pile up."""
    if fixturedef.scope != "function":
        _BROADER_FIXTUREDEFS.add(fixturedef)


def _finishes_this_item(finalizer: object, item: pytest.Item) -> bool:
    if not isinstance(finalizer, functools.partial):
        return False
    owner = getattr(finalizer.func, "__self__", None)
    request = finalizer.keywords.get("request")
    return (
        isinstance(owner, pytest.FixtureDef)
        and owner.scope == "function"
        and owner.cached_result is None
        and getattr(request, "_pyfuncitem", None) is item
    )


def _reset_per_run_state(
    item: pytest.Item, user_properties: list[tuple[str, object]]
) -> None:
    """Forget what the previous run appended to the item.

    Captured output and log sections accumulate on the item run after run,
    and ``record_property`` appends to ``user_properties``: without this a
    test that prints would look like it leaks, and its report would repeat.
    """
    item._report_sections = []  # private: captured output per phase
    item.user_properties = list(user_properties)


class SessionProperties:
    """The session-wide JUnit XML properties, each one once.

    Plugins and tests add them from report hooks and tests, which fire on
    every run: Hypothesis adds its statistics once per teardown report, so
    each run of a Hypothesis test added ~570 bytes that pytest keeps all
    session, and wrote them all.  After each run, what earlier runs of the
    test added under a name the last run added again is dropped: the last
    run's stay, and what only the first run added (a session fixture's
    ``record_testsuite_property``) stays too.  Private: pytest's
    ``LogXML.global_properties``, when ``--junitxml`` is given.
    """

    def __init__(self, config: pytest.Config) -> None:
        self._properties = _junit_session_properties(config)
        self._start = self._newest = (
            len(self._properties) if self._properties is not None else 0
        )

    def keep_newest(self) -> None:
        """Drop what the latest run added again; call it after every run."""
        properties = self._properties
        if properties is None or len(properties) == self._newest:
            return
        newest = properties[self._newest :]
        renamed = {_property_name(entry) for entry in newest}
        older = [
            entry
            for entry in properties[self._start : self._newest]
            if _property_name(entry) not in renamed
        ]
        properties[self._start :] = older + newest
        self._newest = len(properties)


def _property_name(entry: object) -> object:
    return entry[0] if isinstance(entry, tuple) and entry else entry


def _junit_session_properties(config: pytest.Config) -> list[Any] | None:
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # another pytest: only the bookkeeping grows
        return None
    properties = getattr(config.stash.get(xml_key, None), "global_properties", None)
    return properties if isinstance(properties, list) else None


class HeldWarnings:
    """The warnings of a test's runs, held back so that it warns once.

    Each run is captured on its own, and only the first warning of each kind
    and place is kept: a test that warns on every run must not make the held
    list grow, or the list would look like the test's leak.  ResourceWarnings
    (when resources are checked) are described at once and their records,
    which hold the dying objects, dropped.
    """

    def __init__(self, resources: bool) -> None:
        self.resources = resources
        self.unclosed: list[Resource] = []
        self.unclosed_count = 0
        self._held: dict[tuple[Any, str, int], warnings.WarningMessage] = {}

    @contextmanager
    def capture(self) -> Iterator[None]:
        """Record one run's warnings (filters kept: ``-W error`` still raises)."""
        from .resources.unclosed import capture_resource_warnings

        unclosed: contextlib.AbstractContextManager[list[Any]] = (
            capture_resource_warnings()
            if self.resources
            else contextlib.nullcontext([])
        )
        with warnings.catch_warnings(record=True) as records, unclosed as dropped:
            try:
                yield
            finally:
                for record in records:
                    self._held.setdefault(
                        (record.category, record.filename, record.lineno), record
                    )
                records.clear()
                self.take_unclosed(dropped)

    def take_unclosed(self, dropped: list[Any]) -> None:
        """Describe a run's ResourceWarnings at once; drop their records.

        What is kept is one run's worth: the first described run, a later
        one that knows the sites (traced after an untraced screen), or one
        with fewer warnings (a collection can free several runs' garbage
        at once, and the report says how many one run leaves).
        """
        self.unclosed_count += len(dropped)
        kept = self.unclosed
        if dropped and (not any(r.site for r in kept) or len(dropped) < len(kept)):
            from .resources.unclosed import describe_resource_warning

            described = [describe_resource_warning(r) for r in dropped]
            if not kept or any(r.site for r in described):
                self.unclosed = described
        dropped.clear()

    def replay(self) -> None:
        """Re-issue the held warnings to pytest's own capture, once each."""
        held, self._held = list(self._held.values()), {}
        for record in held:
            warnings.warn_explicit(
                record.message,
                record.category,
                record.filename,
                record.lineno,
                source=record.source,
            )


#: What ``gc.get_stats`` said right after our last collection: how many
#: collections had run (all generations), and how many of them were full;
#: None before the first checked test (see :func:`note_collections`).
_after_last: tuple[int, int] | None = None


def note_collections() -> None:
    """Count what the collector ran so far as seen: the next young collection
    covers only what ran after this.  Before the first checked test, and
    after a repeated test's measuring, whose own full collections freed its
    garbage in its captures."""
    global _after_last
    _after_last = _collections_so_far()


def start_noting_collections() -> None:
    """:func:`note_collections`, unless a checked test did already."""
    if _after_last is None:
        note_collections()


def collect_young_garbage() -> None:
    """Collect the garbage a test may have left, right after it.

    Objects the test dropped without closing, caught in cycles, warn now,
    while the test is still the one to blame.

    Generation 0 alone is enough when no collection ran since ours at the
    end of the previous test: then nothing the test made can have been moved
    to an older generation.  Generation 1 is added when collections ran, and
    the whole heap only when a full one did (the test's own ``gc.collect()``,
    or the interpreter's on its allocations): something the test dropped in
    the oldest generation would otherwise warn in whichever later test the
    next full collection runs in, and be blamed there.  Collecting more than
    that would move what is alive this instant (pytest's reports, the
    runner's frames) to the oldest generation, whose growth triggers full
    collections: on tests that each make a few hundred objects, two extra
    walks of the whole heap per 300 tests.

    Python 3.14's incremental collector has no generation 1: there
    ``gc.collect(1)`` collects the young generation and an increment of the
    old one, which finds the test's cycles only if the increment reaches
    them; ``gc.collect(0)`` after a test that ran no collection is exact on
    every version.  (Not tried on 3.14: it is not installable here.)
    """
    global _after_last
    collections, full = now = _collections_so_far()
    last = _after_last
    if last is None:
        generation = 1
    elif collections == last[0]:
        generation = 0
    else:
        generation = 1 if full == last[1] else 2
    gc.collect(generation)
    # What get_stats() says now, unless a finalizer started a collection
    # meanwhile (then the next test collects more, to be sure).
    _after_last = (now[0] + 1, full + 1 if generation == 2 else full)


#: What pytest keeps of a failed test's exception for post-mortem debugging.
_POST_MORTEM = ("last_type", "last_value", "last_traceback", "last_exc")
_SYS_NAMES = sys.__dict__


def release_post_mortem() -> bool:
    """Drop what pytest keeps of the previous test's exception, and collect.

    pytest keeps a failed (or xfailed) test's exception in ``sys.last_value``
    and ``sys.last_traceback`` and deletes them in the next test's call
    phase.  The frames they hold, and what those hold in cycles (a stream
    the app made), become garbage then, in an old generation that the young
    collection after that test does not reach, and warn in whichever later
    test runs a full collection: that test was blamed (starlette's xfailing
    tests).  Released before the next test's snapshot, a moment before pytest
    would, what they held warns now, in no test's check.

    :returns: whether there was anything to release (a cost only after a
        test that did not pass).
    """
    if _SYS_NAMES.keys().isdisjoint(_POST_MORTEM):
        return False
    for name in _POST_MORTEM:
        _SYS_NAMES.pop(name, None)
    gc.collect()
    note_collections()
    return True


def _collections_so_far() -> tuple[int, int]:
    """How many collections ran so far (ours included), and how many were
    full: each collection counts once, under the oldest generation it
    collected."""
    stats = gc.get_stats()
    return sum(map(_COLLECTIONS, stats)), stats[-1]["collections"]


_COLLECTIONS = operator.itemgetter("collections")


def run_until(
    driver: ItemDriver, count: int, after_run: Callable[[], None] | None = None
) -> tuple[Reports, int]:
    """Run ``count`` times or until a run does not pass.

    :returns: the reports of the last run, and how many runs passed.
    """
    reports: Reports = []
    for done in range(count):
        reports = driver.run()
        if not passed(reports):
            return reports, done
        if after_run is not None:
            after_run()
    return reports, count
