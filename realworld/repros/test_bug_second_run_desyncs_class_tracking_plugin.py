"""A test's outcome changed by --leakguard: NaturalPKRollbackTest (SQLAlchemy 2.0.36,
test/orm/test_transaction.py) passes plain; under --leakguard 4 of its 5 tests fail with
"sqlite3.OperationalError: no such table: users".

SQLAlchemy's pytest plugin keeps a ``_current_class``: set in ``pytest_runtest_setup`` when
it is None, cleared -- and the in-memory database disposed, its tables gone -- in a
``pytest_runtest_teardown`` hookwrapper when ``nextitem.getparent(pytest.Class)`` is not
``_current_class``.  The test before it, LegacyJoinIntoAnExternalTransactionTest::
test_something, the only test of its class, leaves a db-connection open, so leakguard runs it
a second time (second_run.ran_again): ``runtestprotocol(item, nextitem=item.parent)``
sets its class up again (``_current_class`` = that class), and its teardown, with
nextitem the Class node itself, looks like "more tests of this class follow"; the class
scope is then unwound by ``setupstate.teardown_exact(nextitem)`` without any teardown hook.
``_current_class`` stays the old class; NaturalPKRollbackTest's first test is not seen as
a class start, and its teardown is taken for the class end: the database is disposed
after the first test.

Same here, with a dict for the database.  Plain: 4 passed.  --leakguard:
TestKeepsAConnection::test_keeps is LEAKED (rightly: a connection per call, never
closed) and TestTables::test_two FAILS (KeyError: 'tables').
"""

import sqlite3

import pytest

KEPT: list[sqlite3.Connection] = []
DATABASE: dict[str, object] = {}  # what the class's fixture set up; dropped at the class's end
_current_class = None


class ClassTracker:
    """SQLAlchemy's start/stop-of-class bookkeeping (pytestplugin.py), reduced."""

    def pytest_runtest_setup(self, item):
        global _current_class
        if _current_class is None:
            _current_class = item.getparent(pytest.Class)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        global _current_class
        yield
        if _current_class is not None and (
            nextitem is None or nextitem.getparent(pytest.Class) is not _current_class
        ):
            _current_class = None
            DATABASE.clear()  # SQLAlchemy: config.db.dispose() -> the :memory: database is gone


@pytest.fixture(scope="session", autouse=True)
def _plugin(request):
    plugin = ClassTracker()
    request.config.pluginmanager.register(plugin, "class-tracker")
    yield
    request.config.pluginmanager.unregister(plugin)


def test_registers_the_tracker():
    pass


class TestKeepsAConnection:
    def test_keeps(self):
        KEPT.append(sqlite3.connect(":memory:"))


@pytest.fixture(scope="class")
def tables():
    DATABASE["tables"] = ["users"]
    yield


@pytest.mark.usefixtures("tables")
class TestTables:
    def test_one(self):
        assert DATABASE["tables"] == ["users"]

    def test_two(self):
        assert DATABASE["tables"] == ["users"]
