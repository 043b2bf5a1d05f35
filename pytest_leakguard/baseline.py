"""Baselines: adopt leakguard on a suite that already leaks, and block new leaks.

A baseline is a plain, sorted JSON file that people review in pull requests::

    {"version": 1,
     "leaks": [{"nodeid": "tests/test_api.py::test_cache", "kind": "objects",
                "fingerprint": "objects:app.User"}]}

An entry identifies a leak by test, kind and a fingerprint that holds across
machines (a type name, a resource kind and creation site; never an address or
a byte count).  Memory leaks (``objects``, ``bytes``) match on the test
alone: whether the bytes or the object counts cross the threshold, and which
types grow most, can differ between Python versions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from .atomic import write_text_atomically

VERSION = 1
MEMORY_KINDS = frozenset({"objects", "bytes"})

NEW, KNOWN, FIXED = "new", "known", "fixed"


class BaselineError(ValueError):
    """The baseline file cannot be used; the message names the file and the problem."""


class Entry(NamedTuple):
    nodeid: str
    kind: str
    fingerprint: str

    @property
    def match_key(self) -> tuple[str, ...]:
        if self.kind in MEMORY_KINDS:
            return (self.nodeid, "memory")
        return (self.nodeid, self.kind, self.fingerprint)


def entry_of(nodeid: str, leak: dict[str, Any]) -> Entry:
    return Entry(
        nodeid, str(leak["kind"]), str(leak.get("fingerprint") or leak["kind"])
    )


class Baseline:
    """The known leaks, and which of them this run saw again."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = sorted(set(entries))
        self._by_key = {entry.match_key: entry for entry in self.entries}

    def status(self, nodeid: str, leak: dict[str, Any]) -> str:
        """``known`` if the baseline lists this leak, else ``new``."""
        return KNOWN if entry_of(nodeid, leak).match_key in self._by_key else NEW

    def fixed(self, checked: dict[str, list[dict[str, Any]]]) -> list[Entry]:
        """Entries of checked tests whose leak did not show up in this run.

        :param checked: nodeid -> leaks, for every test checked in this run;
            tests that did not run (deselected, another xdist shard's file) are
            never called fixed.
        """
        seen = {
            entry_of(nodeid, leak).match_key
            for nodeid, leaks in checked.items()
            for leak in leaks
        }
        return [
            e for e in self.entries if e.nodeid in checked and e.match_key not in seen
        ]


def load(path: str) -> Baseline:
    """Read a baseline file.

    :raises BaselineError: missing, unreadable, corrupt or of another version.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise BaselineError(
            f"baseline file {path!r} does not exist; create it from the current leaks with "
            f"--leakguard-baseline={path} --leakguard-update-baseline"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline file {path!r} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(
            f"baseline file {path!r} is not valid JSON: {exc}"
        ) from None
    return Baseline(_entries(path, data))


def _entries(path: str, data: object) -> list[Entry]:
    if not isinstance(data, dict):
        raise BaselineError(
            f"baseline file {path!r}: expected a JSON object, got {type(data).__name__}"
        )
    if data.get("version") != VERSION:
        raise BaselineError(
            f"baseline file {path!r}: version {data.get('version')!r} is not supported (expected {VERSION})"
        )
    leaks = data.get("leaks")
    if not isinstance(leaks, list):
        raise BaselineError(f"baseline file {path!r}: 'leaks' must be a list")
    entries = []
    for index, raw in enumerate(leaks):
        fields = ("nodeid", "kind", "fingerprint")
        if not isinstance(raw, dict) or not all(
            isinstance(raw.get(f), str) and raw.get(f) for f in fields
        ):
            raise BaselineError(
                f"baseline file {path!r}: leaks[{index}] must have non-empty string fields {', '.join(fields)}"
            )
        entries.append(Entry(raw["nodeid"], raw["kind"], raw["fingerprint"]))
    return entries


def write(path: str, entries: Iterable[Entry]) -> None:
    """Write ``entries`` sorted, one per line, atomically."""
    leaks = [
        {"nodeid": e.nodeid, "kind": e.kind, "fingerprint": e.fingerprint}
        for e in sorted(set(entries))
    ]
    text = (
        json.dumps({"version": VERSION, "leaks": leaks}, indent=2, sort_keys=True)
        + "\n"
    )
    write_text_atomically(path, text)
