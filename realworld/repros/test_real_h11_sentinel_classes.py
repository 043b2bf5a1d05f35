"""Real (unreclaimable) growth: h11 Sentinel classes are never freed.

h11._util.Sentinel.__new__ does ``v.__class__ = v``: the class is its own
type.  The cyclic GC clears such a class (its weak references die, its dict
is emptied) but never deallocates it: each one stays as a zombie, ~1.2 KiB
and 3 GC objects (1000 classes -> +3000 objects, +1.2 MB).  h11 itself only
makes a fixed set of sentinels at import, so this is only the test's growth
(h11/tests/test_util.py::test_make_sentinel makes two per run).
Needs h11.

    pytest -p no:cacheprovider --leakguard-all realworld/repros/test_real_h11_sentinel_classes.py
"""
from __future__ import annotations

import pytest

pytest.importorskip("h11")
from h11._util import Sentinel  # noqa: E402


def test_make_a_sentinel():
    class S(Sentinel, metaclass=Sentinel):
        pass

    assert type(S) is S
