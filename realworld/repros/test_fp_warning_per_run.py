"""False positive: a test that emits one warning per run under --leakguard-all.

The warnings a checked test emits are recorded in one catch_warnings(record=True)
list that lives for the whole check of the item (all 8 runs): each run adds a
WarningMessage + the warning instance to it ("Held by: warnings ->
._showwarnmsg_impl -> (closure cell) -> list.append -> list [N] WarningMessage").
In sqlite-utils: ~40 CLI tests whose click CliRunner.isolated_filesystem()
emits a DeprecationWarning.

    pytest -p no:cacheprovider --leakguard-all realworld/repros/test_fp_warning_per_run.py
    # LEAKED ~380 B and 2 objects per run (DeprecationWarning, warnings.WarningMessage)
"""
from __future__ import annotations

import warnings


def test_warns_once_per_call():
    warnings.warn("old API", DeprecationWarning, stacklevel=1)
