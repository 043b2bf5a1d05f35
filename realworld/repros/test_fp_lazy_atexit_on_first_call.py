"""False positive: a library's atexit clean-up, registered once on its first call.

certifi's ``where()`` (certifi/core.py, Python 3.11 and later), on its first
call only, extracts the CA bundle and registers ``exit_cacert_ctx`` with
``atexit``; later calls register nothing.  httpx calls it whenever it makes an
SSL context, so the first test of httpx 0.28.1's suite to make a client
(``tests/client/test_async_client.py::test_get[asyncio]``) was reported
"1 atexit left open".  ``where()`` below is certifi's pattern; when certifi is
installed, certifi itself is used too.

    /work/main/.venv/bin/python -m pytest -p no:cacheprovider -p no:randomly \
        --leakguard realworld/repros/test_fp_lazy_atexit_on_first_call.py
    # at 02cf8a9: test_first_call and test_certifi_first_call LEAKED "1 atexit";
    # since df3cfa2: every test passes except test_registers_per_call, which
    # registers its callback again on every call (a leak, confirmed by the
    # second run that now tells the two apart).
"""

from __future__ import annotations

import atexit

import pytest

_path: str | None = None


def _cleanup() -> None:
    pass


def where() -> str:
    global _path
    if _path is None:
        _path = "/etc/ssl/cacert.pem"
        atexit.register(_cleanup)
    return _path


def test_first_call() -> None:
    assert where().endswith(".pem")


def test_second_call() -> None:
    assert where().endswith(".pem")


def test_registers_per_call() -> None:
    atexit.register(_cleanup)


def test_certifi_first_call() -> None:
    certifi = pytest.importorskip("certifi")
    assert certifi.where().endswith("cacert.pem")
