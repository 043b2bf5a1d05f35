"""False positive: unittest subTest() under --leakguard-all (pytest >= 9 built-in subtests).

Every repetition's SubtestReport goes through pytest_runtest_logreport and is
appended to TerminalReporter.stats[""], so the test "grows" by a few reports
per run although the test keeps nothing.

    pytest -p no:cacheprovider --leakguard-all realworld/repros/test_fp_unittest_subtests.py
"""
from __future__ import annotations

import unittest


class T(unittest.TestCase):
    def test_subtests(self):
        for i in range(2):
            with self.subTest(i=i):
                assert i == i  # noqa: PLR0124
