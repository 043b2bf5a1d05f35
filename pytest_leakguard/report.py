"""From a checked item's outcome to what people and machines read.

The per-test *result* is a JSON-able dict that rides on the ``TestReport``
(as ``report.leakguard``), so pytest-xdist carries it to the controller and
every summary -- terminal, JSON, JUnit -- is built from the same data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .units import format_size

if TYPE_CHECKING:
    from .resources import Resource

STATUS = ("failed", "L", "LEAKED")
NOT_REPEATABLE_STATUS = ("failed", "N", "NOT REPEATABLE")
KNOWN_STATUS = ("passed", "K", "KNOWN LEAK")
OVER_BUDGET_STATUS = ("failed", "B", "OVER BUDGET")
# Kinds that are not resources left open.
_NOT_RESOURCES = ("bytes", "objects", "peak-memory")
SECTION = "leakguard"


def build_result(
    memory: dict[str, Any] | None,
    resources: Sequence[dict[str, Any]],
    not_repeatable: int | None,
) -> dict[str, Any]:
    """The JSON-able verdict of one checked test."""
    leaks = _memory_leaks(memory) + list(resources)
    return {
        "checked": memory is not None or not_repeatable is None,
        "leaked": bool(leaks),
        "leaks": leaks,
        "memory": memory,
        "not_repeatable": not_repeatable,
    }


def resource_leaks(resources: Sequence[Resource]) -> list[dict[str, Any]]:
    """One leak entry per fingerprint, with a count."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        key = (resource.kind, resource.fingerprint or resource.description)
        if key in merged:
            merged[key]["count"] += 1
            merged[key]["details"].append(resource.description)
            continue
        merged[key] = {
            "kind": resource.kind,
            "summary": resource.description,
            "site": resource.site,
            "fingerprint": resource.fingerprint or resource.description,
            "per_run": [1],
            "count": 1,
            "details": [resource.description],
        }
    return list(merged.values())


def _memory_leaks(memory: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not memory or not memory["leaked"]:
        return []
    leaks = []
    if memory["bytes_trend"] == "growing":
        per_run = memory["bytes_per_run"]
        leaks.append(
            {
                "kind": "bytes",
                "per_run": per_run,
                "summary": f"{format_size(_typical(per_run))} per run",
                "fingerprint": "bytes",
            }
        )
    if memory["objects_trend"] == "growing" or memory["growing_types"]:
        per_run = memory["objects_per_run"]
        types = [name for name, _ in memory["growing_types"]]
        what = ", ".join(types[:3]) or "objects"
        leaks.append(
            {
                "kind": "objects",
                "per_run": per_run,
                "summary": f"{_typical(per_run)} objects per run ({what})",
                "fingerprint": "objects:" + ",".join(sorted(types)),
            }
        )
    return leaks


def verdict_line(result: dict[str, Any]) -> str:
    """``LEAKED 1.2 KiB and 10 objects per run (runs: +10 +10 +10 +11)``."""
    parts = []
    memory = result.get("memory")
    kinds = {leak["kind"] for leak in result["leaks"]}
    if memory and memory["leaked"]:
        bytes_part = format_size(_typical(memory["bytes_per_run"]))
        objects = _typical(memory["objects_per_run"])
        if "objects" in kinds:
            runs = _runs_text([_signed(d) for d in memory["objects_per_run"]])
        else:
            runs = _runs_text([_signed_size(d) for d in memory["bytes_per_run"]])
        parts.append(f"{bytes_part} and {objects} objects per run (runs: {runs})")
    resources = [leak for leak in result["leaks"] if leak["kind"] not in _NOT_RESOURCES]
    if resources:
        parts.append(_count_resources(resources))
    budget = [leak for leak in result["leaks"] if leak["kind"] == "peak-memory"]
    if budget:
        parts.append(budget[0]["summary"])
        if len(parts) == 1:
            return "OVER BUDGET " + parts[0]
    return "LEAKED " + "; ".join(parts)


def section(result: dict[str, Any], nodeid: str) -> str:
    """The ``leakguard`` report section: figures, types, sites, path, help."""
    lines = [verdict_line(result)]
    memory = result.get("memory")
    if memory and memory["leaked"]:
        lines += _memory_section(memory)
    for leak in result["leaks"]:
        if leak["kind"] == "peak-memory":
            lines += _budget_section(leak)
    resources = [leak for leak in result["leaks"] if leak["kind"] not in _NOT_RESOURCES]
    if resources:
        lines.append("Left open:")
        for leak in resources:
            site = f"  (created at {leak['site']})" if leak.get("site") else ""
            details = sorted(set(leak.get("details", [])))
            if len(details) > 1:  # alike resources (both ends of a pipe): name each
                owner = (
                    f"fixture {leak['fixture']} left open: "
                    if leak.get("fixture")
                    else ""
                )
                lines.append(
                    f"  {leak['kind']}: {owner}{len(leak.get('details', []))} alike{site}"
                )
                lines += [f"    {detail}" for detail in details]
                continue
            count = f" x{leak['count']}" if leak.get("count", 1) > 1 else ""
            lines.append(f"  {leak['kind']}: {leak['summary']}{count}{site}")
    lines += _how_to_silence(result)
    return "\n".join(lines)


def _memory_section(memory: dict[str, Any]) -> list[str]:
    lines = [
        f"Measured runs: {len(memory['bytes_per_run'])} of {memory['runs']} runs in all",
        "  bytes per run:   "
        + " ".join(_signed_size(d) for d in memory["bytes_per_run"]),
        "  objects per run: " + " ".join(_signed(d) for d in memory["objects_per_run"]),
    ]
    explanation = memory.get("explanation") or {}
    if explanation.get("types"):
        lines.append("Types that grew (per run: count, retained size):")
        for row in explanation["types"]:
            lines.append(
                f"  {row['type']:<32} +{row['count_per_run']:<6} {format_size(row['retained_bytes_per_run'])}"
            )
    elif memory["growing_types"]:
        lines.append("Types that grew:")
        for name, series in memory["growing_types"]:
            lines.append(f"  {name:<32} " + " ".join(_signed(d) for d in series))
    if explanation.get("sites"):
        lines.append("Allocated at (per run):")
        for site in explanation["sites"]:
            where = f"{site['file']}:{site['line']}"
            lines.append(
                f"  {where:<40} {format_size(site['bytes_per_run']):>10}  {site['source']}"
            )
    if explanation.get("path"):
        lines.append("Held by:")
        lines.append("  " + " -> ".join(explanation["path"]))
    rows = sorted(explanation.get("types", []), key=lambda row: "." not in row["type"])
    for row in rows:
        if row["samples"]:
            lines.append(f"Samples of {row['type']}:")
            lines += [f"  {text}" for text in row["samples"]]
            break
    notes = list(memory.get("notes", [])) + list(explanation.get("notes", []))
    lines += [f"Note: {note}" for note in notes]
    return lines


def _budget_section(leak: dict[str, Any]) -> list[str]:
    lines = ["Allocated at the peak (still allocated when memory was highest):"]
    for site in leak.get("sites", []):
        where = f"{site['file']}:{site['line']}"
        lines.append(
            f"  {where:<40} {format_size(site['bytes']):>10}  {site.get('source', '')}"
        )
    lines += [f"Note: {note}" for note in leak.get("notes", [])]
    return lines


def _how_to_silence(result: dict[str, Any]) -> list[str]:
    hints = []
    memory = result.get("memory")
    if memory and memory["leaked"] and memory["growing_types"]:
        names = ", ".join(repr(name) for name, _ in memory["growing_types"][:3])
        hints.append(f"@pytest.mark.leakguard(ignore_types=[{names}])")
    if any(leak["kind"] == "peak-memory" for leak in result["leaks"]):
        hints.append("@pytest.mark.leakguard(max_memory='...') with a larger budget")
    kinds = sorted(
        {leak["kind"] for leak in result["leaks"] if leak["kind"] not in _NOT_RESOURCES}
    )
    if kinds:
        hints.append(f"@pytest.mark.leakguard(allow=['{kinds[0]}:*'])")
    hints.append("@pytest.mark.no_leakguard(reason='...')")
    return [
        "To accept it: "
        + ", or ".join(hints)
        + " (see the leakguard_* ini keys for suite-wide settings)"
    ]


def summary_line(nodeid: str, result: dict[str, Any]) -> str:
    word, _, rest = verdict_line(result).partition(" ")
    if word == "OVER":
        word, _, rest = "OVER BUDGET", "", rest.partition(" ")[2]
    return f"{word} {nodeid} - {rest}"


def _count_resources(resources: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for leak in resources:
        counts[leak["kind"]] = counts.get(leak["kind"], 0) + leak.get("count", 1)
    return ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) + " left open"


def _runs_text(values: list[str], shown: int = 6) -> str:
    """All the runs when few, else the first and last ones (the section has all)."""
    if len(values) <= shown:
        return " ".join(values)
    return " ".join([*values[:3], f"... {len(values) - 5} more ...", *values[-2:]])


def _typical(series: Sequence[int]) -> int:
    return median_int(series)


def _signed(value: int) -> str:
    return f"{value:+d}"


def _signed_size(value: int) -> str:
    return ("+" if value >= 0 else "-") + format_size(abs(value))


class _Crash:
    """What pytest's short summary and JUnit read from ``longrepr.reprcrash``."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.path = ""
        self.lineno = 0


class LeakRepr:
    """A leak as a report's ``longrepr``: one message line, then the section.

    Under pytest-xdist the report travels as JSON and this becomes its text.
    """

    def __init__(self, message: str, body: str) -> None:
        self.reprcrash = _Crash(message)
        self.body = body

    def toterminal(self, tw: Any) -> None:
        for line in self.body.splitlines():
            tw.line(line, red=line.startswith("LEAKED"))

    def __str__(self) -> str:
        return self.body


def median_int(values: Sequence[int]) -> int:
    """The median as an int, 0 for none (``statistics`` costs a millisecond to import)."""
    if not values:
        return 0
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return int(ordered[middle])
    return int((ordered[middle - 1] + ordered[middle]) / 2)
