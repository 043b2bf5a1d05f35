"""The ``--leakguard-html`` page: unit tests of render() and one real headless-browser load."""

from __future__ import annotations

import copy
import html
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_leakguard.htmlreport import render, write_html

from .browser.chromium import open_page
from .services import require_binary

HOSTILE = "<script>document.title = 'pwned'</script>"

LEAKY = {
    "nodeid": "test_app.py::test_cache_keeps_every_user",
    "outcome": "failed",
    "checked": True,
    "leaked": True,
    "not_repeatable": None,
    "leaks": [
        {
            "kind": "bytes",
            "summary": "278 B per run",
            "fingerprint": "bytes",
            "per_run": [422, 278, 366, 278, 278],
        },
        {
            "kind": "objects",
            "summary": "2 objects per run (app.User)",
            "fingerprint": "objects:app.User",
            "per_run": [2, 2, 2, 2, 2],
            "baseline": "known",
        },
        {
            "kind": "thread",
            "summary": "Thread '<b>worker</b>' (daemon=True) running in wait()",
            "fingerprint": "thread",
            "site": "test_app.py:12",
            "count": 2,
            "per_run": [1],
            "baseline": "new",
        },
    ],
    "memory": {
        "leaked": True,
        "runs": 8,
        "bytes_per_run": [422, 278, 366, 278, 278],
        "objects_per_run": [2, 2, 2, 2, 2],
        "bytes_trend": "growing",
        "objects_trend": "growing",
        "growing_types": [["app.User", [2, 2, 2, 2, 2]]],
        "notes": [],
        "policy": {"ignore_types": [], "min_bytes": 64, "min_objects": 1},
        "explanation": {
            "notes": ["a note with <i>markup</i>"],
            "path": ["app", "._CACHE (dict)", "['<script>'] (app.User)"],
            "sites": [
                {
                    "file": "app.py",
                    "line": 19,
                    "source": 'return User("<b>")',
                    "bytes_per_run": 224,
                    "blocks_per_run": 5,
                }
            ],
            "types": [
                {
                    "type": "app.User",
                    "count_per_run": 2,
                    "retained_bytes_per_run": 688,
                    "samples": [HOSTILE],
                }
            ],
        },
    },
}

CLEAN = {
    "nodeid": "test_app.py::test_user_is_dropped",
    "outcome": "passed",
    "checked": True,
    "leaked": False,
    "not_repeatable": None,
    "leaks": [],
    "memory": {
        "leaked": False,
        "runs": 8,
        "bytes_per_run": [0, 0, 0, 0, 0],
        "objects_per_run": [0, 0, 0, 0, 0],
    },
}

DOCUMENT: dict[str, Any] = {
    "version": 1,
    "settings": {
        "runs": 5,
        "warmup": 3,
        "max_runs": 15,
        "min_bytes": 64,
        "min_objects": 1,
        "mode": "item",
    },
    "totals": {"tests": 2, "checked": 2, "leaked": 1},
    "notes": [],
    "tests": [LEAKY, CLEAN],
}

LEAKY_CACHE_WITH_HOSTILE_REPR = """
    import pytest

    _CACHE = {}


    class Payload:
        def __init__(self, n):
            self.n = n
            self.data = list(range(20))

        def __repr__(self):
            return "<script>document.title = 'pwned'</script>"


    @pytest.mark.leakguard
    def test_cache_keeps_every_payload():
        _CACHE[len(_CACHE)] = Payload(len(_CACHE))


    @pytest.mark.leakguard
    def test_payload_is_dropped():
        assert Payload(1).n == 1
"""


def test_user_supplied_text_is_escaped_everywhere() -> None:
    page = render(DOCUMENT)

    assert HOSTILE not in page
    assert "&lt;script&gt;document.title = &#x27;pwned&#x27;&lt;/script&gt;" in page
    assert page.count("<script>") == 2  # the page's own two
    assert "<b>worker" not in page
    assert '<b>")' not in page
    assert "<i>markup</i>" not in page


def test_leaking_test_gets_a_verdict_line_and_svg_charts_of_its_runs() -> None:
    page = render(DOCUMENT)

    assert "LEAKED 278 B and 2 objects per run (runs: +2 +2 +2 +2 +2)" in page
    assert page.count('<figure class="chart"><svg') == 2
    assert (
        len(re.findall(r'<rect class="bar"', page)) == 10
    )  # five runs, bytes and objects
    assert "run 2: +278 B" in page
    assert 'class="limit"' in page  # the min_bytes / min_objects threshold


def test_page_fetches_nothing_from_the_network() -> None:
    page = render(DOCUMENT)

    assert "http://" not in page
    assert "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(//|[a-z]+:(?!,))""", page)
    assert "url(" not in page
    assert "@import" not in page
    assert "default-src 'none'" in html.unescape(page)  # the browser enforces it too


def test_resource_leaks_are_listed_with_kind_summary_count_and_site() -> None:
    page = render(DOCUMENT)

    row = re.search(r"<tr><td>thread</td>.*?</tr>", page)
    assert row is not None
    assert (
        "Thread &#x27;&lt;b&gt;worker&lt;/b&gt;&#x27; (daemon=True) running in wait()"
        in row.group()
    )
    assert "test_app.py:12" in row.group()
    assert '<td class="num">2</td>' in row.group()


def test_baseline_status_is_shown_only_when_leaks_carry_one() -> None:
    without = copy.deepcopy(DOCUMENT)
    for leak in without["tests"][0]["leaks"]:
        leak.pop("baseline", None)

    assert '<span class="badge new">new</span>' in render(DOCUMENT)
    assert '<span class="badge known">known</span>' in render(DOCUMENT)
    assert "baseline" not in render(without)


def test_clean_tests_are_in_the_table_without_a_section() -> None:
    page = render(DOCUMENT)

    assert 'data-nodeid="test_app.py::test_user_is_dropped"' in page
    assert page.count('<section class="leak"') == 1


def test_reference_path_without_graphviz_is_text_with_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")

    page = render(DOCUMENT)

    assert "graphviz not installed: path shown as text" in page
    assert "<code>._CACHE (dict)</code><span>&rarr;</span>" in page
    assert "<code>[&#x27;&lt;script&gt;&#x27;] (app.User)</code>" in page


def test_reference_path_with_graphviz_is_an_inline_svg_digraph() -> None:
    _require_graphviz()

    page = render(DOCUMENT)

    graph = re.search(r'<div class="graph"><svg.*?</svg></div>', page, re.DOTALL)
    assert graph is not None
    assert "&lt;script&gt;" in graph.group()
    assert "<script" not in graph.group()
    assert "xmlns" not in graph.group()
    assert "graphviz not installed" not in page


def _require_graphviz() -> None:
    """``require_binary("dot")`` with the right package name in the message."""
    if shutil.which("dot") is None:
        message = (
            "graphviz is not installed (apt-get install graphviz); .ci/run installs it"
        )
        if os.environ.get("LEAKGUARD_REQUIRE_SERVICES"):
            pytest.fail(message)
        pytest.skip(message)


def test_write_html_replaces_the_file_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    target = tmp_path / "reports" / "leakguard.html"
    write_html(str(target), DOCUMENT)
    write_html(str(target), DOCUMENT)

    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["leakguard.html"]


def test_report_of_a_real_run_renders_in_headless_chromium(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """The page as a browser shows it: after its scripts ran, with the policy enforced."""
    chromium = require_binary("chromium")
    leakguard_pytester.makepyfile(test_app=LEAKY_CACHE_WITH_HOSTILE_REPR)
    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=out.json"
    )
    result.assert_outcomes(failed=1, passed=1)
    document = json.loads(
        (leakguard_pytester.path / "out.json").read_text(encoding="utf-8")
    )
    page = leakguard_pytester.path / "report" / "leakguard.html"
    write_html(str(page), document)

    started = time.monotonic()
    run = open_page(chromium, page, leakguard_pytester.path / "browser")
    elapsed = time.monotonic() - started

    print(f"chromium took {elapsed:.1f} s")
    assert "test_app.py::test_cache_keeps_every_payload" in run.dom
    assert "LEAKED" in run.dom
    assert "2 of 2 tests shown" in run.dom  # written by the page's script: it ran
    assert '<div id="js-errors" hidden=""></div>' in run.dom
    assert "<title>leakguard report</title>" in run.dom  # the hostile repr did not run
    assert "&lt;script&gt;document.title" in run.dom
    console = [
        line
        for line in run.log.splitlines()
        if ":CONSOLE" in line or "Uncaught" in line
    ]
    assert console == []
    assert run.screenshot.stat().st_size > 10_000
