"""Report wording: two different resources merged under the first one's description.

session._as_leaks() merges resources by fingerprint ("fd pipe") and keeps the
first description, so the two ends of one os.pipe() read as
"fd: pipe read end (fd 14, pipe:[...]) x2": the write end (fd 15) is never
named and "fd 14 x2" looks like one fd counted twice.

    pytest -p no:cacheprovider --leakguard realworld/repros/test_bug_merged_pipe_ends.py
"""

from __future__ import annotations

import os

_kept: list[tuple[int, int]] = []


def test_pipe_left_open():
    _kept.append(os.pipe())
