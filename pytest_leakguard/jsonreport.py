"""``--leakguard-json``: one JSON document for the whole run, written atomically."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session import SessionState

from .atomic import write_text_atomically

VERSION = 1


def document(state: SessionState) -> dict[str, Any]:
    """The run as plain data: settings, totals and one entry per test."""
    tests = sorted(state.results.entries.values(), key=lambda t: t["nodeid"])
    settings = state.settings
    fixed = state.results.fixed_baseline_entries()
    return {
        "version": VERSION,
        "settings": {
            "runs": settings.runs,
            "warmup": settings.warmup,
            "max_runs": settings.max_runs,
            "min_bytes": settings.min_bytes,
            "min_objects": settings.min_objects,
            "mode": settings.mode,
            "check_all": settings.check_all,
            "resources": settings.resources,
            "max_memory": settings.max_memory,
            "baseline": settings.baseline_path,
        },
        "totals": {
            "tests": len(tests),
            "checked": sum(1 for t in tests if t.get("checked")),
            "leaked": sum(1 for t in tests if t.get("leaked")),
            "new": sum(1 for t in tests if t.get("leaked") and t.get("failing")),
            "known": sum(1 for t in tests if t.get("leaked") and not t.get("failing")),
            "fixed": len(fixed),
        },
        "baseline": {
            "path": settings.baseline_path,
            "fixed": [
                {
                    "nodeid": e.nodeid,
                    "kind": e.kind,
                    "fingerprint": e.fingerprint,
                    "baseline": "fixed",
                }
                for e in fixed
            ],
        },
        "notes": list(state.notes),
        "tests": tests,
    }


def write_json(path: str, state: SessionState) -> None:
    """Write to a temporary file beside ``path``, then rename: never half a file."""
    text = json.dumps(document(state), indent=2, sort_keys=True, default=str)
    write_text_atomically(path, text + "\n")
