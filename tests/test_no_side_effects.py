"""Without --leakguard the plugin does nothing; with it, it keeps nothing of the test."""

from __future__ import annotations

import sys

import pytest


def test_unmarked_and_marked_tests_run_as_usual_without_measuring_libraries(
    leakguard_pytester: pytest.Pytester,
) -> None:
    leakguard_pytester.makepyfile(
        """
        import sys
        import pytest

        kept = []

        @pytest.mark.leakguard
        def test_marked_leaky_but_not_checked():
            kept.append({})

        def test_measuring_libraries_not_imported():
            assert "objgraph" not in sys.modules
            assert "pympler" not in sys.modules
            assert len(kept) == 1
        """
    )

    result = leakguard_pytester.runpytest_subprocess("-p", "no:randomly")

    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*leakguard summary*")


def test_resource_checks_import_neither_asyncio_nor_the_memory_side(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """A suite that never imports asyncio does not pay for its import, and
    unrepeated tests do not load the probes (ctypes for the heap counters)."""
    leakguard_pytester.makepyfile(
        """
        import sys

        def test_nothing_extra_imported():
            assert "asyncio" not in sys.modules
            assert "ctypes" not in sys.modules
            assert "pytest_leakguard.explain" not in sys.modules
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard",
        "-p",
        "no:asyncio",
        "-p",
        "no:randomly",
        "-p",
        "no:xdist",
        "-p",
        "no:hypothesispytest",
        "-p",
        "no:memray",
        "-p",
        "no:rerunfailures",
    )

    result.assert_outcomes(passed=1)


def test_the_plugin_keeps_no_object_of_a_checked_test_alive(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """The weakref idiom of pytest PR #2006: after the verdict the objects are gone."""
    leakguard_pytester.makepyfile(
        """
        import gc, weakref
        import pytest

        class Payload:
            pass

        refs = []
        kept = []

        @pytest.mark.leakguard
        def test_clean_checked():
            payload = Payload()
            refs[:] = [weakref.ref(payload)]

        @pytest.mark.leakguard
        def test_leaky_checked():
            kept.append(Payload())

        def test_after():
            kept.clear()
            gc.collect()
            alive = [ref for ref in refs if ref() is not None]
            assert refs and not alive
            assert not [o for o in gc.get_objects() if type(o).__name__ == "Payload"]
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard", "-p", "no:randomly")

    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["LEAKED *::test_leaky_checked - *"])


def test_json_report_lists_every_test_and_its_leaks(
    leakguard_pytester: pytest.Pytester,
) -> None:
    import json

    leakguard_pytester.makepyfile(
        """
        import pytest
        kept = []

        @pytest.mark.leakguard
        def test_leaks():
            kept.append({"k": [1]})

        @pytest.mark.leakguard
        def test_clean():
            pass

        def test_unmarked():
            pass

        @pytest.mark.skip
        def test_skipped():
            pass

        @pytest.mark.no_leakguard(reason="opted out")
        def test_opted_out():
            pass
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "--leakguard-json=reports/lg.json"
    )

    result.assert_outcomes(passed=3, failed=1, skipped=1)
    document = json.loads((leakguard_pytester.path / "reports" / "lg.json").read_text())
    assert document["version"] == 1
    tests = {t["nodeid"].split("::")[1]: t for t in document["tests"]}
    assert tests["test_leaks"]["leaked"]
    assert tests["test_leaks"]["checked"]
    kinds = {leak["kind"] for leak in tests["test_leaks"]["leaks"]}
    assert "objects" in kinds
    objects = next(
        leak for leak in tests["test_leaks"]["leaks"] if leak["kind"] == "objects"
    )
    assert objects["per_run"] == [2, 2, 2, 2, 2]
    assert tests["test_clean"] == {
        **tests["test_clean"],
        "checked": True,
        "leaked": False,
        "leaks": [],
    }
    assert tests["test_unmarked"]["checked"] is True  # resource-checked
    assert tests["test_skipped"]["checked"] is False
    assert tests["test_opted_out"]["checked"] is False
    assert document["totals"] == {
        "tests": 5,
        "checked": 3,
        "leaked": 1,
        "new": 1,
        "known": 0,
        "fixed": 0,
    }
    assert not list((leakguard_pytester.path / "reports").glob(".leakguard-*"))


def test_a_checked_run_writes_nothing_to_stderr(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """The plugin's output goes to the terminal report, never stray to stderr."""
    leakguard_pytester.makepyfile(
        """
        import pytest

        @pytest.mark.leakguard
        def test_repeated():
            assert sum(range(10)) == 45

        def test_resources_only():
            open(__file__).close()
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-v", "-p", "no:randomly"
    )

    result.assert_outcomes(passed=2)
    assert result.stderr.lines == []


def test_no_module_of_leakguard_is_imported_between_measured_runs(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Judging a leak (the filling-cache check, the explanation) imports
    nothing once a test's runs began: Hypothesis, among others, rescans
    ``sys.modules`` whenever it grows, and would grow with it."""
    leakguard_pytester.makeconftest(
        """
        import sys

        seen = set()

        def pytest_runtest_call(item):
            # From the second run of the session on (the first follows the start-up).
            late = sorted(m for m in set(sys.modules) - seen if "leakguard" in m)
            if late and seen:
                print(f"LATE IMPORT in {item.name}: {late}")
            seen.update(sys.modules)
        """
    )
    leakguard_pytester.makepyfile(
        """
        import functools
        import pytest

        kept = []

        @functools.lru_cache(maxsize=4)
        def cached(key):
            return [key]

        @pytest.mark.leakguard
        def test_first_clean():
            assert sorted([3, 1, 2]) == [1, 2, 3]

        @pytest.mark.leakguard
        def test_leaks():
            kept.append({"n": [len(kept)]})
            cached(len(kept))
        """
    )

    result = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-s", "-p", "no:randomly"
    )

    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*LEAKED*test_leaks*"])
    result.stdout.no_fnmatch_line("*LATE IMPORT*")


def test_the_session_end_leaves_no_hook_that_reaches_leakguard(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """What outlives the session (the audit hook, which cannot be removed)
    holds nothing of leakguard's, and every wrapper is put back: anything
    else would keep leakguard's and pytest's modules alive at exit, where
    they are then freed the slow way."""
    leakguard_pytester.makeconftest(
        """
        import _posixsubprocess, atexit, signal, threading

        def start():  # threading's private alias (before 3.13)
            return getattr(threading, "_start_new_thread", None)

        ORIGINALS = (start(), signal.signal, atexit.register, _posixsubprocess.fork_exec)

        def report():
            from pytest_leakguard.resources import audit_relay

            print("relay globals:", sorted(audit_relay.relay.__globals__))
            print("relay target:", audit_relay._slot["_target"])
            now = (start(), signal.signal, atexit.register, _posixsubprocess.fork_exec)
            print("wrappers put back:", now == ORIGINALS)

        atexit.register(report)
        """
    )
    leakguard_pytester.makepyfile(
        """
        import socket, threading

        def test_opens_and_starts():
            with socket.socket():
                pass
            thread = threading.Thread(target=lambda: None)
            thread.start()
            thread.join()
        """
    )

    result = leakguard_pytester.runpytest_subprocess("--leakguard")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "relay globals: ['_events', '_target']",
            "relay target: None",
            "wrappers put back: True",
        ]
    )


def test_the_audit_hook_is_added_when_the_first_test_runs_not_before(
    leakguard_pytester: pytest.Pytester,
) -> None:
    """Once added, every audit event of the process calls into Python, and
    collecting raises about twenty per test: the hook waits for the first
    test, and a session that runs none (``--collect-only``) adds none."""
    leakguard_pytester.makeconftest(
        """
        from pytest_leakguard.resources import sites

        def pytest_collection_finish(session):
            print("hook after collection:", sites._installed)
        """
    )
    leakguard_pytester.makepyfile(
        """
        from pytest_leakguard.resources import sites

        def test_one():
            print("hook during a test:", sites._installed)
        """
    )

    collected = leakguard_pytester.runpytest_subprocess(
        "--leakguard", "-s", "--collect-only"
    )
    ran = leakguard_pytester.runpytest_subprocess("--leakguard", "-s")

    collected.stdout.fnmatch_lines(["hook after collection: False"])
    collected.stdout.no_fnmatch_line("*hook during a test*")
    ran.assert_outcomes(passed=1)
    ran.stdout.fnmatch_lines(
        ["hook after collection: False", "*hook during a test: True*"]
    )


def test_pytest_does_not_rewrite_leakguards_modules(pytester: pytest.Pytester) -> None:
    """Installed from a wheel, the plugin's package is on pytest's rewrite
    list, and pytest's loader reads each module back slowly (``marshal.load``
    on a file object): the package takes itself off the list."""
    from _pytest.assertion.rewrite import AssertionRewritingHook

    import pytest_leakguard

    hook = AssertionRewritingHook(pytester.parseconfig())
    hook.mark_rewrite("pytest_leakguard", "other_plugin")
    sys.meta_path.insert(0, hook)
    try:
        pytest_leakguard._skip_assertion_rewriting()
    finally:
        sys.meta_path.remove(hook)

    assert hook._must_rewrite == {"other_plugin"}
