"""``--leakguard-html``: the JSON document as one self-contained HTML page.

The page is built from :func:`pytest_leakguard.jsonreport.document` alone, so
it shows exactly what the JSON says and works for xdist runs too. It is meant
to be attached to CI runs and opened offline: CSS, scripts and charts are
inline, and a Content-Security-Policy forbids every fetch. Everything that
came from the test suite (node ids, reprs, source lines) is HTML-escaped, and
only the page's own two scripts (pinned by hash) may run.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .atomic import write_text_atomically
from .report import verdict_line
from .units import format_size

DOT_TIMEOUT = 10.0  # seconds; a path has a handful of nodes, so this is generous
_MEMORY_KINDS = ("bytes", "objects")
_LABEL_MAX = 80  # characters of a path step drawn in a graph node

_CSS = """
:root { color-scheme: light; --bad: #b42318; --ok: #067647; --muted: #667085; --line: #eaecf0; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d2939; background: #f6f7f9; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 24px 48px; } h1 { font-size: 22px; margin: 8px 0 12px; }
h2 { font-size: 17px; margin: 0 0 6px; word-break: break-all; } h3 { font-size: 14px; margin: 16px 0 6px; color: #344054; }
.cards, .charts, .toolbar { display: flex; gap: 14px; flex-wrap: wrap; align-items: center; margin-bottom: 8px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; min-width: 90px; }
.card b { display: block; font-size: 24px; } .card.bad b, .LEAKED, .verdict { color: var(--bad); font-weight: 600; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 18px; margin: 16px 0; }
section.leak { border-left: 4px solid var(--bad); } table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: #475467; background: #f9fafb; } .num { text-align: right !important; white-space: nowrap; }
code, .sample, .id, .verdict { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; word-break: break-all; }
.sample { display: block; background: #f2f4f7; border-radius: 4px; padding: 1px 6px; margin: 2px 0; }
.clean { color: var(--ok); } .muted, .note, .settings, figcaption { color: var(--muted); } figure { margin: 0; }
.badge { border-radius: 10px; padding: 0 8px; font-size: 12px; background: var(--line); }
.badge.new { background: #fee4e2; color: var(--bad); } .badge.fixed { background: #d1fadf; color: var(--ok); }
.chart svg { width: 380px; height: auto; background: #fcfcfd; border: 1px solid var(--line); border-radius: 6px; }
figcaption { font-size: 12px; text-align: center; } svg text { font: 10px system-ui, sans-serif; fill: #475467; }
.bar { fill: #d92d20; } .bar.neg { fill: #98a2b3; } .axis { stroke: #98a2b3; } .limit { stroke: #f79009; stroke-dasharray: 4 3; }
.graph svg { max-width: 100%; height: auto; } .path { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.path code { border: 1px solid #98a2b3; border-radius: 6px; padding: 2px 8px; background: #f2f4f7; } .path span { color: var(--muted); }
#js-errors { background: #fee4e2; color: var(--bad); padding: 8px; white-space: pre-wrap; }
"""

# First in <body>: any script error, rejected promise or blocked fetch becomes
# visible text, so a headless browser's dumped DOM shows it (and so do people).
_GUARD_JS = """(function () {
  var box = document.getElementById("js-errors");
  function show(text) { var line = document.createElement("div"); line.textContent = text; box.appendChild(line); box.hidden = false; }
  window.addEventListener("error", function (e) { show("error: " + e.message + " (" + e.filename + ":" + e.lineno + ")"); });
  window.addEventListener("unhandledrejection", function (e) { show("unhandled rejection: " + e.reason); });
  document.addEventListener("securitypolicyviolation", function (e) { show("blocked: " + e.violatedDirective + " " + e.blockedURI); });
})();"""

# Last in <body>: the test table's filter. It also writes the "N of M tests
# shown" line, which therefore proves that the page's script ran.
_APP_JS = """(function () {
  var filter = document.getElementById("filter"), onlyLeaked = document.getElementById("only-leaked");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#tests tbody tr"));
  function update() {
    var needle = filter.value.toLowerCase(), count = 0;
    rows.forEach(function (row) {
      var match = row.getAttribute("data-nodeid").toLowerCase().indexOf(needle) >= 0;
      row.hidden = !(match && (!onlyLeaked.checked || row.classList.contains("leaked")));
      count += row.hidden ? 0 : 1;
    });
    document.getElementById("shown").textContent = count + " of " + rows.length + " tests shown";
  }
  filter.addEventListener("input", update);
  onlyLeaked.addEventListener("change", update);
  update();
})();"""

# Hashes rather than 'unsafe-inline': a <script> that slipped past escaping
# still would not run; and default-src 'none' blocks every network fetch.
_HASHES = " ".join(
    f"'sha256-{base64.b64encode(hashlib.sha256(js.encode()).digest()).decode()}'"
    for js in (_GUARD_JS, _APP_JS)
)
_POLICY = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src {_HASHES}; base-uri 'none'"


def render(document: Mapping[str, Any]) -> str:
    """The whole page for one ``--leakguard-json`` document.

    :param document: what :func:`pytest_leakguard.jsonreport.document` returns
        (or the same data loaded back from the JSON file).
    """
    tests = list(document.get("tests", []))
    parts = [_header(document), _tests_table(tests)]
    parts += [_leak_section(test) for test in tests if test.get("leaked")]
    return _page("leakguard report", "\n".join(parts))


def write_html(path: str, document: Mapping[str, Any]) -> None:
    """Write to a temporary file beside ``path``, then rename: never half a page."""
    text = render(document)
    write_text_atomically(path, text)


def _e(value: object) -> str:
    """Escape for text and quoted attributes alike: the one door user data goes through."""
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_e(_POLICY)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><link rel="icon" href="data:,"><style>{_CSS}</style></head>
<body><div id="js-errors" hidden></div>
<script>{_GUARD_JS}</script>
<main>
{body}
</main>
<script>{_APP_JS}</script>
</body></html>
"""


def _header(document: Mapping[str, Any]) -> str:
    totals = document.get("totals", {})
    cards = "".join(
        f'<div class="card{" bad" if name == "leaked" and totals.get(name) else ""}">{name}<b>{_e(totals.get(name, 0))}</b></div>'
        for name in ("tests", "checked", "leaked")
    )
    settings = sorted(document.get("settings", {}).items())
    shown = ", ".join(
        f"{_e(key)} <code>{_e(_setting(key, value))}</code>" for key, value in settings
    )
    notes = "".join(
        f'<p class="note">{_e(note)}</p>' for note in document.get("notes", [])
    )
    version = _e(document.get("version", "?"))
    return f"""<h1>leakguard report</h1><div class="cards">{cards}</div>
<p class="settings">Settings: {shown or "none recorded"} &middot; report format {version}</p>{notes}"""


def _setting(key: str, value: object) -> str:
    return (
        format_size(value)
        if key == "min_bytes" and isinstance(value, int)
        else str(value)
    )


def _tests_table(tests: Sequence[Mapping[str, Any]]) -> str:
    checked = [test for test in tests if test.get("checked")]
    baseline = any(
        leak.get("baseline") for test in checked for leak in test.get("leaks", [])
    )
    head = "<th>test</th><th>outcome</th><th>verdict</th><th class=num>bytes / run</th><th class=num>objects / run</th>"
    head += "<th>baseline</th>" if baseline else ""
    rows = "\n".join(_test_row(test, baseline) for test in checked)
    return f"""<section><h2>Checked tests</h2>
<div class="toolbar"><input id="filter" type="search" placeholder="filter by node id" aria-label="filter by node id">
<label><input id="only-leaked" type="checkbox"> only leaked</label><span id="shown" class="muted"></span></div>
<table id="tests"><thead><tr>{head}</tr></thead><tbody>
{rows}
</tbody></table></section>"""


def _test_row(test: Mapping[str, Any], baseline: bool) -> str:
    nodeid, memory = test.get("nodeid", ""), test.get("memory") or {}
    verdict = (
        "LEAKED"
        if test.get("leaked")
        else "NOT REPEATABLE"
        if test.get("not_repeatable")
        else "clean"
    )
    per_run_bytes = (
        _signed_size(_typical(memory["bytes_per_run"]))
        if memory.get("bytes_per_run")
        else "&ndash;"
    )
    per_run_objects = (
        f"{_typical(memory['objects_per_run']):+d}"
        if memory.get("objects_per_run")
        else "&ndash;"
    )
    name = (
        f'<a href="#{_anchor(nodeid)}">{_e(nodeid)}</a>'
        if test.get("leaked")
        else _e(nodeid)
    )
    cells = (
        f'<td class="id">{name}</td><td>{_e(test.get("outcome", ""))}</td>'
        f'<td class="{verdict.split()[0]}">{verdict}</td>'
        f'<td class="num">{per_run_bytes}</td><td class="num">{per_run_objects}</td>'
    )
    if baseline:
        cells += f"<td>{_badges(leak.get('baseline') for leak in test.get('leaks', []))}</td>"
    css = ' class="leaked"' if test.get("leaked") else ""
    return f'<tr{css} data-nodeid="{_e(nodeid)}">{cells}</tr>'


def _leak_section(test: Mapping[str, Any]) -> str:
    nodeid, memory = test.get("nodeid", ""), test.get("memory") or {}
    details = _memory_details(memory) if memory.get("leaked") else ""
    return f"""<section class="leak" id="{_anchor(nodeid)}"><h2>{_e(nodeid)}</h2>
<p class="verdict">{_e(verdict_line(dict(test)))}</p>
{details}
{_findings(test.get("leaks", []))}
</section>"""


def _anchor(nodeid: str) -> str:
    """A fragment id made of hex digits: node ids hold characters that ids should not."""
    return "leak-" + hashlib.sha1(nodeid.encode("utf-8")).hexdigest()[:12]


def _memory_details(memory: Mapping[str, Any]) -> str:
    policy, explanation = memory.get("policy", {}), memory.get("explanation") or {}
    bytes_series, objects_series = (
        memory.get("bytes_per_run", []),
        memory.get("objects_per_run", []),
    )
    parts = [
        f'<p class="muted">Measured runs: {len(bytes_series)} of {_e(memory.get("runs", "?"))} runs in all</p>',
        '<div class="charts">',
        _chart("bytes per run", bytes_series, _signed_size, policy.get("min_bytes")),
        _chart(
            "objects per run",
            objects_series,
            lambda v: f"{int(v):+d}",
            policy.get("min_objects"),
        ),
        "</div>",
        _types_table(explanation.get("types", []), memory.get("growing_types", [])),
        _sites_table(explanation.get("sites", [])),
    ]
    if explanation.get("path"):
        parts += ["<h3>Held by</h3>", _path_graph(explanation["path"])]
    notes = list(memory.get("notes", [])) + list(explanation.get("notes", []))
    parts += [f'<p class="note">Note: {_e(note)}</p>' for note in notes]
    return "\n".join(parts)


def _chart(
    title: str, series: Sequence[int], label: Callable[[float], str], limit: int | None
) -> str:
    """Bars of each measured run's growth, the threshold dashed: SVG drawn here, so no JS library."""
    width, height, left, top, bottom = 380, 170, 62, 14, 24
    plot_w, plot_h = width - left - 10, height - top - bottom
    high, low = max([0, *series, limit or 0]), min([0, *series])
    high = high if high > low else low + 1

    def y(value: float) -> float:
        return top + (high - value) / (high - low) * plot_h

    step, every = plot_w / max(len(series), 1), math.ceil(len(series) / 15) or 1
    shapes = [
        f'<line class="axis" x1="{left}" x2="{width - 10}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>'
    ]
    for value in {high, 0, low}:
        shapes.append(
            f'<text x="{left - 6}" y="{y(value) + 3:.1f}" text-anchor="end">{_e(label(value))}</text>'
        )
    for i, value in enumerate(series):
        x, bar_h = (
            left + i * step + step * 0.15,
            max(abs(y(value) - y(0)), 1.0 if value else 0.0),
        )
        shapes.append(
            f'<rect class="bar{" neg" if value < 0 else ""}" x="{x:.1f}" y="{min(y(value), y(0)):.1f}" '
            f'width="{step * 0.7:.1f}" height="{bar_h:.1f}"><title>run {i + 1}: {_e(label(value))}</title></rect>'
        )
        if i % every == 0:
            shapes.append(
                f'<text x="{x + step * 0.35:.1f}" y="{height - 8}" text-anchor="middle">{i + 1}</text>'
            )
    if limit:
        shapes.append(
            f'<line class="limit" x1="{left}" x2="{width - 10}" y1="{y(limit):.1f}" y2="{y(limit):.1f}">'
            f"<title>threshold: {_e(label(limit))} per run</title></line>"
        )
    caption = f"{title} (runs 1 to {len(series)}, total {label(sum(series))}; dashed: threshold)"
    return (
        f'<figure class="chart"><svg viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">'
        f"{''.join(shapes)}</svg><figcaption>{_e(caption)}</figcaption></figure>"
    )


def _types_table(
    types: Sequence[Mapping[str, Any]], growing: Sequence[Sequence[Any]]
) -> str:
    if types:
        head = "<th>type</th><th class=num>count / run</th><th class=num>retained / run</th><th>samples</th>"
        rows = "".join(
            f'<tr><td><code>{_e(row["type"])}</code></td><td class="num">+{_e(row["count_per_run"])}</td>'
            f'<td class="num">{_e(format_size(row["retained_bytes_per_run"]))}</td>'
            f"<td>{''.join(f'<span class=sample>{_e(s)}</span>' for s in row.get('samples', []))}</td></tr>"
            for row in types
        )
    elif growing:
        head = "<th>type</th><th>growth per run</th>"
        rows = "".join(
            f"<tr><td><code>{_e(name)}</code></td><td>{_e(' '.join(f'{d:+d}' for d in series))}</td></tr>"
            for name, series in growing
        )
    else:
        return ""
    return f"<h3>Types that grew</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _sites_table(sites: Sequence[Mapping[str, Any]]) -> str:
    if not sites:
        return ""
    head = "<th>where</th><th class=num>bytes / run</th><th class=num>blocks / run</th><th>source</th>"
    rows = "".join(
        f'<tr><td class="id">{_e(site["file"])}:{_e(site["line"])}</td>'
        f'<td class="num">{_e(format_size(site["bytes_per_run"]))}</td>'
        f'<td class="num">{_e(site.get("blocks_per_run", ""))}</td><td><code>{_e(site["source"])}</code></td></tr>'
        for site in sites
    )
    return f"<h3>Allocated at</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _path_graph(steps: Sequence[str]) -> str:
    """The reference path as a graphviz digraph when ``dot`` is there, else as text."""
    dot = shutil.which("dot")
    if dot is None:
        return _path_text(steps, "graphviz not installed: path shown as text")
    try:
        done = subprocess.run(
            [dot, "-Tsvg"],
            input=_dot_source(steps).encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as error:
        return _path_text(
            steps, f"graphviz failed ({type(error).__name__}): path shown as text"
        )
    svg = _inline_svg(done.stdout.decode("utf-8", errors="replace"))
    if svg is None:
        return _path_text(steps, "graphviz gave no usable SVG: path shown as text")
    return f'<div class="graph">{svg}</div>'


def _dot_source(steps: Sequence[str]) -> str:
    """First node (the root) blue, last node (the leaked object) red."""
    last = len(steps) - 1
    fills = (
        ["#dbe6f6"] + ["#f2f4f7"] * (last - 1) + ["#fde2e1"] if last else ["#fde2e1"]
    )
    nodes = " ".join(
        f'n{i} [label="{_dot_label(step)}", fillcolor="{fills[i]}"];'
        for i, step in enumerate(steps)
    )
    edges = " -> ".join(f"n{i}" for i in range(len(steps)))
    return (
        'digraph path { rankdir=LR; bgcolor="transparent"; '
        'node [shape=box, style="rounded,filled", fontname="DejaVu Sans", fontsize=11, color="#667085"]; '
        f'edge [color="#667085"]; {nodes} {edges}; }}'
    )


def _dot_label(step: str) -> str:
    """``._CACHE (dict)`` -> two lines, name then type; quoted for DOT."""
    text = step if len(step) <= _LABEL_MAX else step[: _LABEL_MAX - 1] + "\u2026"
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    name, sep, kind = text.rpartition(" (")
    return f"{name}\\n({kind}" if sep and name and text.endswith(")") else text


def _inline_svg(output: str) -> str | None:
    """dot's SVG trimmed for inline use; None if it holds more than a drawing."""
    start = output.find("<svg")
    if start < 0 or "<script" in output.lower() or "<foreignobject" in output.lower():
        return None
    # Namespace URIs are never fetched, but inline SVG needs none of them, and
    # the comments and <title>s only repeat our own node ids.
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", output[start:])
    return re.sub(r"<!--.*?-->|<title>[^<]*</title>", "", svg, flags=re.DOTALL).strip()


def _path_text(steps: Sequence[str], note: str) -> str:
    boxes = "<span>&rarr;</span>".join(f"<code>{_e(step)}</code>" for step in steps)
    return f'<div class="path">{boxes}</div><p class="note">{_e(note)}</p>'


def _findings(leaks: Sequence[Mapping[str, Any]]) -> str:
    """Every leak entry, memory and resources alike, with its baseline status if it has one."""
    if not leaks:
        return ""
    # Memory entries have no count or site (their summary is per run): columns only for resources.
    resources = any(leak["kind"] not in _MEMORY_KINDS for leak in leaks)
    baseline = any(leak.get("baseline") for leak in leaks)
    head = "<th>kind</th><th>summary</th>" + (
        "<th class=num>count</th><th>created at</th>" if resources else ""
    )
    rows = []
    for leak in leaks:
        cells = f"<td>{_e(leak['kind'])}</td><td>{_e(leak['summary'])}</td>"
        if resources and leak["kind"] in _MEMORY_KINDS:
            cells += "<td></td><td></td>"
        elif resources:
            cells += f'<td class="num">{_e(leak.get("count", 1))}</td><td class="id">{_e(leak.get("site") or "unknown")}</td>'
        if baseline:
            cells += f"<td>{_badges([leak.get('baseline')])}</td>"
        rows.append(f"<tr>{cells}</tr>")
    head += "<th>baseline</th>" if baseline else ""
    return f"<h3>What leaked</h3><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _badges(statuses: Iterable[object]) -> str:
    unique = sorted({str(status) for status in statuses if status})
    return " ".join(
        f'<span class="badge {_e(status)}">{_e(status)}</span>' for status in unique
    )


def _typical(series: Sequence[int]) -> int:
    """The median, as the terminal report uses: one odd run does not move it."""
    return int(statistics.median(series)) if series else 0


def _signed_size(value: float) -> str:
    return ("+" if value >= 0 else "-") + format_size(abs(value))


__all__ = ["render", "write_html"]
