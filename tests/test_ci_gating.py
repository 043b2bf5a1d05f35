"""CI gating: baselines, JUnit properties, GitHub annotations, pytest-xdist."""

from __future__ import annotations

import json

import pytest

LEAKY_AND_CLEAN = """
    import logging, pytest

    kept = []

    @pytest.mark.leakguard
    def test_memory_leak():
        kept.append({"n": [len(kept)]})

    def test_handler_leak():
        logging.getLogger("app.audit").addHandler(logging.NullHandler())

    @pytest.mark.leakguard
    def test_clean():
        assert sum([1, 2]) == 3
"""


def test_baseline_turns_known_leaks_into_passes_and_new_ones_still_fail(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(test_app=LEAKY_AND_CLEAN)

    written = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "--leakguard-baseline=leakguard-baseline.json",
        "--leakguard-update-baseline",
    )
    written.assert_outcomes(passed=3)
    baseline = json.loads(
        (leakguard_pytester.path / "leakguard-baseline.json").read_text()
    )
    assert baseline["version"] == 1
    assert [(e["nodeid"], e["kind"]) for e in baseline["leaks"]] == sorted(
        (e["nodeid"], e["kind"]) for e in baseline["leaks"]
    )
    assert {e["kind"] for e in baseline["leaks"]} >= {"objects", "logging-handler"}
    assert all("0x" not in e["fingerprint"] for e in baseline["leaks"])

    leakguard_pytester.makepyfile(
        test_new="""
        import pytest
        more = []

        @pytest.mark.leakguard
        def test_new_leak():
            more.append({"n": [len(more)]})
        """
    )
    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "--leakguard-baseline=leakguard-baseline.json",
        "-p",
        "no:randomly",
    )

    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*leakguard summary*",
            "LEAKED test_new.py::test_new_leak - *",
            "KNOWN test_app.py::test_memory_leak - *",
            "KNOWN test_app.py::test_handler_leak - 1 logging-handler left open",
            "4 tests checked (3 repeated), 3 leaked (1 new, 2 known), 0 fixed",
        ]
    )


def test_baseline_entry_whose_leak_is_gone_is_reported_fixed_without_failing(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(test_app="def test_was_leaky():\n    pass\n")
    (leakguard_pytester.path / "bl.json").write_text(
        json.dumps(
            {
                "version": 1,
                "leaks": [
                    {
                        "nodeid": "test_app.py::test_was_leaky",
                        "kind": "socket",
                        "fingerprint": "socket tcp",
                    }
                ],
            }
        )
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-baseline=bl.json"
    )

    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "FIXED test_app.py::test_was_leaky - socket leak no longer seen: remove it from the baseline"
        ]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            None,
            "*baseline file 'bl.json' does not exist; create it * --leakguard-update-baseline*",
        ),
        ("{not json", "*baseline file 'bl.json' is not valid JSON*"),
        (
            '{"version": 7, "leaks": []}',
            "*baseline file 'bl.json': version 7 is not supported (expected 1)*",
        ),
        ('{"version": 1, "leaks": {}}', "*'leaks' must be a list*"),
        (
            '{"version": 1, "leaks": [{"nodeid": 3}]}',
            "*leaks[[]0] must have non-empty string fields nodeid, kind, fingerprint*",
        ),
        ("[1, 2]", "*expected a JSON object, got list*"),
    ],
)
def test_missing_or_corrupt_baseline_is_a_usage_error_naming_the_file(
    leakguard_pytester: pytest.Pytester, content: str | None, message: str
) -> None:
    leakguard_pytester.makepyfile("def test_x(): pass")
    if content is not None:
        (leakguard_pytester.path / "bl.json").write_text(content)

    result = leakguard_pytester.runpytest("--leakguard", "--leakguard-baseline=bl.json")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_junit_xml_carries_the_leak_message_and_figures(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(LEAKY_AND_CLEAN)

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--junitxml=junit.xml"
    )

    result.assert_outcomes(passed=1, failed=2)
    xml = (leakguard_pytester.path / "junit.xml").read_text()
    assert '<failure message="1 logging-handler left open"' in xml
    assert 'name="leakguard_objects_per_run" value="2"' in xml
    assert 'name="leakguard_resources_left_open" value="1"' in xml
    assert 'name="leakguard_leaked" value="false"' in xml


def test_github_actions_gets_an_error_annotation_per_new_leak(
    leakguard_pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    leakguard_pytester.makepyfile(test_app=LEAKY_AND_CLEAN)

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.stdout.fnmatch_lines(
        [
            "::error file=test_app.py,line=5,title=leakguard::test_app.py::test_memory_leak: LEAKED *",
            "::error file=test_app.py,line=9,title=leakguard::test_app.py::test_handler_leak: LEAKED 1 logging-handler left open",
        ],
        consecutive=False,
    )


def test_xdist_gives_the_same_verdicts_summary_and_json_as_a_serial_run(
    leakguard_pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    leakguard_pytester.makepyfile(
        test_a=LEAKY_AND_CLEAN, test_b=LEAKY_AND_CLEAN.replace("app.audit", "app.b")
    )

    serial = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=serial.json", "-p", "no:randomly"
    )
    parallel = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=parallel.json", "-n", "2"
    )

    serial.assert_outcomes(passed=2, failed=4)
    parallel.assert_outcomes(passed=2, failed=4)

    def verdicts(name: str) -> dict[str, tuple[bool, list[str]]]:
        document = json.loads((leakguard_pytester.path / name).read_text())
        assert document["totals"] == {
            "tests": 6,
            "checked": 6,
            "leaked": 4,
            "new": 4,
            "known": 0,
            "fixed": 0,
        }
        return {
            t["nodeid"]: (t["leaked"], sorted(leak["kind"] for leak in t["leaks"]))
            for t in document["tests"]
        }

    assert verdicts("serial.json") == verdicts("parallel.json")
    for result in (serial, parallel):
        result.stdout.fnmatch_lines(["6 tests checked (4 repeated), 4 leaked"])
        assert sum(line.startswith("LEAKED test_") for line in result.stdout.lines) >= 4
        # The short summary quotes the message, not the verdict word again
        # (the failure reaches xdist's controller as text).
        result.stdout.fnmatch_lines(
            ["LEAKED test_a.py::test_handler_leak - 1 logging-handler left open"]
        )
        result.stdout.no_fnmatch_line("*- LEAKED*")


def test_xdist_workers_notes_reach_the_controllers_summary_and_json(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A checker that fails on the workers is noted there; the controller,
    which prints the summary and writes the JSON, says so once."""
    pytest.importorskip("xdist")
    leakguard_pytester.makeconftest(
        """
        class BrokenChecker:
            kind = "broken"

            def snapshot(self):
                raise RuntimeError("registry gone")

            def describe(self, keys):
                return []

        def pytest_leakguard_resource_checkers(config):
            return [BrokenChecker()]
        """
    )
    leakguard_pytester.makepyfile(
        "".join(f"def test_{n}():\n    assert {n} + 1\n\n" for n in range(4))
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=report.json", "-n", "2"
    )

    result.assert_outcomes(passed=4)
    note = "note: resource checker 'broken' failed: RuntimeError: registry gone"
    assert result.stdout.lines.count(note) == 1
    document = json.loads((leakguard_pytester.path / "report.json").read_text())
    assert document["notes"].count(note.removeprefix("note: ")) == 1


@pytest.mark.parametrize("runner", ["leakguard", "late plugin", "early plugin"])
def test_every_test_is_in_the_json_whoever_runs_it(
    leakguard_pytester: pytest.Pytester, runner: str
) -> None:
    """leakguard records the reports of the tests it runs itself, and asks
    for every logged report only when something else may run tests (a
    hook implementation costs every report a call): a plugin registered
    after collection that takes tests over, or one registered before
    leakguard (a conftest's hook, called after leakguard's, so it runs none)."""
    leakguard_pytester.makeconftest(
        f"""
        import pytest
        from _pytest.runner import runtestprotocol

        class TakeOver:
            @pytest.hookimpl(tryfirst=True)
            def pytest_runtest_protocol(self, item, nextitem):
                if "handler" not in item.name:
                    return None
                ihook = item.ihook
                ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
                runtestprotocol(item, nextitem=nextitem)
                ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
                return True

        if {runner == "early plugin"}:
            pytest_runtest_protocol = TakeOver().pytest_runtest_protocol

        def pytest_collection_finish(session):
            manager = session.config.pluginmanager
            if {runner == "late plugin"}:  # registered last, so called first
                manager.register(TakeOver(), "take-over")
            print("recording logged reports:", manager.has_plugin("leakguard-recorder"))
        """
    )
    leakguard_pytester.makepyfile(
        """
        import logging

        def test_handler_leak():
            logging.getLogger("app.audit").addHandler(logging.NullHandler())

        def test_clean():
            assert sum([1, 2]) == 3
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=out.json", "-s", "-p", "no:randomly"
    )

    document = json.loads((leakguard_pytester.path / "out.json").read_text())
    tests = {t["nodeid"].split("::")[-1]: t for t in document["tests"]}
    checked_by_us = runner != "late plugin"
    assert sorted(tests) == ["test_clean", "test_handler_leak"]
    assert tests["test_clean"]["checked"] is True
    assert tests["test_handler_leak"]["checked"] is checked_by_us
    assert tests["test_handler_leak"]["leaked"] is checked_by_us
    assert tests["test_handler_leak"]["outcome"] == (
        "failed" if checked_by_us else "passed"
    )
    result.assert_outcomes(passed=1 + (not checked_by_us), failed=int(checked_by_us))
    recording = runner != "leakguard"
    result.stdout.fnmatch_lines([f"recording logged reports: {recording}"])
