"""SQLAlchemy 2.0.36's own pytest plugin (lib/sqlalchemy/testing/plugin/pytestplugin.py)
disposes the testing engine's pool -- closing its pooled sqlite3 connection -- in a
``pytest_runtest_teardown`` hookwrapper *after* its ``yield``, i.e. once the fixtures of
the last test of a class are torn down:

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(item, nextitem):
        ...
        yield
        if nextitem is None or nextitem.getparent(pytest.Class) is not _current_class:
            plugin_base.stop_test_class_outside_fixtures(item.cls)   # -> config.db.dispose()

The class-scoped fixture ``_setup_tables_test_class`` creates the tables and so is what
first checks a connection out of the (just disposed) pool.  Under ``--leakguard`` the last
test of about 35 such classes fails with "fixture _setup_tables_test_class (class scope)
left open: sqlite3 connection to :memory:" (+ the ATTACHed pysqlite_test_schema.db file),
although by the end of that test's teardown the connection is closed.

Same here, stdlib only: a module-global "pool" that a class fixture first fills and a
teardown hookwrapper empties at the end of the class.  Passes plain; under --leakguard
test_two fails (the fixture's teardown is checked at pytest_fixture_post_finalizer,
before the rest of the teardown hook has run).
"""

import sqlite3

import pytest

POOL: list[sqlite3.Connection] = []  # an engine's pool: a connection kept between uses


def connect() -> sqlite3.Connection:
    if not POOL:
        POOL.append(sqlite3.connect(":memory:"))
    return POOL[0]


def dispose() -> None:
    while POOL:
        POOL.pop().close()


class DisposeAtClassEnd:
    """What SQLAlchemy's plugin does: dispose of the pool once the class's last test is torn down."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield
        if nextitem is None or nextitem.cls is not item.cls:
            dispose()


@pytest.fixture(scope="session", autouse=True)
def _plugin(request):
    # (SQLAlchemy's comes from test/conftest.py; registered here to keep to one file)
    plugin = DisposeAtClassEnd()
    request.config.pluginmanager.register(plugin, "dispose-at-class-end")
    yield
    request.config.pluginmanager.unregister(plugin)


@pytest.fixture(scope="class")
def tables():
    connect().execute("CREATE TABLE t (x)")
    yield
    connect().execute("DROP TABLE t")  # the pool keeps its connection


@pytest.mark.usefixtures("tables")
class TestTables:
    def test_one(self):
        connect().execute("INSERT INTO t VALUES (1)")

    def test_two(self):
        assert connect().execute("SELECT count(*) FROM t").fetchone() == (1,)


def test_pool_was_disposed():
    assert POOL == []
