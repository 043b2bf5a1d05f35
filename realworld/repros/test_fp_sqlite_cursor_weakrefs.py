"""F27 (fixed in 575a53a): a marked test that
queries a sqlite3 connection kept across its runs was reported as leaking, one dead weak
reference per query (``weakref.ReferenceType +1`` per run, "Held by: ... sqlite3.Connection ->
(Connection internals) (list)").  A connection keeps a weak reference to every cursor it makes
(``execute()`` makes one) and drops the dead ones only every 200 cursors: bounded.  Found with
``--leakguard-all`` on SQLAlchemy 2.0.36's test/orm/test_transaction.py (18 of its flags).

    /work/main/.venv/bin/python -m pytest -p no:randomly -p no:rerunfailures --leakguard \
        test_fp_sqlite_cursor_weakrefs.py    # before the fix: 2 LEAKED; now 2 passed
"""

import sqlite3
import pytest

@pytest.fixture(scope="module")
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("create table t (x)")
    yield conn
    conn.close()

@pytest.mark.leakguard
def test_query(db):
    for _ in range(15):
        db.execute("select count(*) from t").fetchone()

@pytest.mark.leakguard
def test_one_query(db):
    db.execute("select count(*) from t").fetchone()
