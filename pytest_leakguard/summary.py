"""The ``leakguard`` section at the end of the terminal output (and CI annotations)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import report as reporting

if TYPE_CHECKING:
    from .session import SessionState


def write_terminal_summary(terminalreporter: Any, state: SessionState) -> None:
    """New, known and fixed leaks, one line each, then totals; figures per run with -v."""
    results = list(state.results.entries.values())
    checked = [r for r in results if r.get("checked")]
    new = [r for r in results if r.get("leaked") and r.get("failing")]
    known = [r for r in results if r.get("leaked") and not r.get("failing")]
    not_repeatable = [r for r in results if r.get("not_repeatable")]
    fixed = state.results.fixed_baseline_entries()
    if not checked and not results and not state.notes:
        return
    write = terminalreporter.write_line
    verbose = terminalreporter.config.getoption("verbose") > 0
    terminalreporter.write_sep("=", "leakguard summary")
    for result in new:
        write(reporting.summary_line(result["nodeid"], result), red=True)
        _write_figures(write, result, verbose)
    for result in known:
        write(
            f"KNOWN {result['nodeid']} - {reporting.verdict_line(result).removeprefix('LEAKED ')}",
            yellow=True,
        )
        _write_figures(write, result, verbose)
    for entry in fixed:
        write(
            f"FIXED {entry.nodeid} - {entry.kind} leak no longer seen: remove it from the baseline",
            green=True,
        )
    for result in not_repeatable:
        write(
            f"NOT REPEATABLE {result['nodeid']} - failed on run {result['not_repeatable']}",
            yellow=True,
        )
    if verbose:
        for result in checked:
            for note in (result.get("memory") or {}).get("notes", []):
                write(f"note: {result['nodeid']}: {note}")
    for note in state.notes:
        write(f"note: {note}")
    set_up_once = [r["nodeid"] for r in results if r.get("set_up_once")]
    if set_up_once:
        count = len(set_up_once)
        write(
            f"note: {count} {'test' if count == 1 else 'tests'} left open only what "
            f"{'it' if count == 1 else 'they'} reused when run again (one-time set-up: "
            "a pool, a worker thread or a loop made on first use); not reported"
            + ("" if verbose else " (-v lists them)")
        )
        if verbose:
            for nodeid in set_up_once:
                write(f"    {nodeid}")
    if state.not_repeated_subtests:
        write(
            f"note: {state.not_repeated_subtests} tests log subtest reports while they run: "
            "they were run once and checked for resources only"
        )
    repeated = sum(1 for r in checked if r.get("memory") is not None)
    totals = f"{len(checked)} tests checked ({repeated} repeated), {len(new) + len(known)} leaked"
    if state.results.baseline is not None or state.settings.update_baseline:
        totals += f" ({len(new)} new, {len(known)} known), {len(fixed)} fixed"
    write(totals)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        _github_annotations(new)


def _write_figures(write: Any, result: dict[str, Any], verbose: bool) -> None:
    if not verbose:
        return
    for leak in result["leaks"]:
        series = " ".join(f"{v:+d}" for v in leak.get("per_run", []))
        write(f"    {leak['kind']}: {leak['summary']}  per run: {series}")


def _github_annotations(new: list[dict[str, Any]]) -> None:
    """Workflow commands, printed raw so that GitHub Actions picks them up."""
    for result in new:
        path, line = (result.get("location") or [result["nodeid"].split("::")[0], 1])[
            :2
        ]
        message = (
            reporting.verdict_line(result)
            .replace("%", "%25")
            .replace("\r", "%0D")
            .replace("\n", "%0A")
        )
        print(
            f"::error file={path},line={line or 1},title=leakguard::{result['nodeid']}: {message}",
            flush=True,
        )
