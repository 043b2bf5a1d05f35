"""The ``leakguard`` section at the end of the terminal output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import report as reporting

if TYPE_CHECKING:
    from .session import SessionState


def write_terminal_summary(terminalreporter: Any, state: SessionState) -> None:
    """One line per leaking test, totals, and notes; figures per run with -v."""
    results = state.results.values()
    checked = [r for r in results if r.get("checked")]
    leaked = [r for r in results if r.get("leaked")]
    not_repeatable = [r for r in results if r.get("not_repeatable")]
    if not checked and not leaked and not state.notes:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "leakguard summary")
    verbose = terminalreporter.config.getoption("verbose") > 0
    for result in leaked:
        write(reporting.summary_line(result["nodeid"], result), red=True)
        if verbose:
            for leak in result["leaks"]:
                write(f"    {leak['kind']}: {leak['summary']}  per run: {_series(leak.get('per_run', []))}")
    for result in not_repeatable:
        write(f"NOT REPEATABLE {result['nodeid']} - failed on run {result['not_repeatable']}", yellow=True)
    if verbose:
        for result in checked:
            for note in (result.get("memory") or {}).get("notes", []):
                write(f"note: {result['nodeid']}: {note}")
    for note in state.notes:
        write(f"note: {note}")
    repeated = sum(1 for r in checked if r.get("memory") is not None)
    write(f"{len(checked)} tests checked ({repeated} repeated), {len(leaked)} leaked")


def _series(values: list[int]) -> str:
    return " ".join(f"{v:+d}" for v in values)
