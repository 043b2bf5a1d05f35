"""Command-line options, ini keys and the session-wide ``Settings``.

Order of precedence, resolved once here and per test in ``markers.py``:
marker arguments, then the command line, then the ini file, then the defaults
below.  Every validator names where a bad value came from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import pytest

from .units import parse_size

T = TypeVar("T")

# Defaults, measured on examples/: three warm-up runs absorb lazy imports,
# first-call caches and pytest's own first-use work (CPython's refleak hunter
# warns under three); five measured runs make "grew on every run" a strong
# signal while keeping a checked test at eight runs.
DEFAULT_RUNS = 5
DEFAULT_WARMUP = 3
DEFAULT_MAX_RUNS = 15
DEFAULT_MIN_BYTES = 64
DEFAULT_MIN_OBJECTS = 1
DEFAULT_SETTLE_TIME = 1.0
MODES = ("item", "call")
TRACINGS = ("auto", "always")

ENABLE_HELP = "check the tests marked @pytest.mark.leakguard for leaks, and every test for resources left open"
ALL_HELP = "repeat and check every test, marked or not (implies --leakguard)"
RUNS_HELP = f"measured runs of a checked test (default {DEFAULT_RUNS})"
WARMUP_HELP = f"unmeasured warm-up runs before measuring (default {DEFAULT_WARMUP})"
MAX_RUNS_HELP = f"measured runs at most, when the first ones are inconclusive (default {DEFAULT_MAX_RUNS})"
MIN_BYTES_HELP = f"traced growth per run that counts as a leak, e.g. 64 or '1 KiB' (default {DEFAULT_MIN_BYTES})"
MIN_OBJECTS_HELP = (
    f"live objects per run that count as a leak (default {DEFAULT_MIN_OBJECTS})"
)
MODE_HELP = "'item' repeats setup, call and teardown (default); 'call' sets up once and repeats the call"
TRACING_HELP = (
    "'auto' screens measured runs with cheap heap counters and traces only the tests "
    "whose counters grew (default); 'always' traces every measured run (slower)"
)
JSON_HELP = "write a JSON report of the run to this path"
RESOURCES_HELP = (
    "check every test for resources left open (default true under --leakguard)"
)
IGNORE_TYPES_HELP = "type names never reported as growing, one per line"
ALLOW_HELP = "resources allowed to stay open, one 'kind:pattern' per line (fnmatch on the description)"
BASELINE_HELP = (
    "JSON file of known leaks: they are reported but do not fail; new leaks fail"
)
UPDATE_BASELINE_HELP = "write this run's leaks to the baseline file (--leakguard-baseline, default leakguard-baseline.json)"
MAX_MEMORY_HELP = "fail a checked test whose traced peak during its call exceeds this size, e.g. '50 MB'"
HTML_HELP = "write a self-contained HTML report of the run to this path"
DEFAULT_BASELINE = "leakguard-baseline.json"
SETTLE_HELP = f"seconds to wait at most for threads, processes and sockets to finish closing (default {DEFAULT_SETTLE_TIME})"


class Settings(NamedTuple):
    """Everything the session decided about checking, before markers."""

    enabled: bool = False
    check_all: bool = False
    runs: int = DEFAULT_RUNS
    warmup: int = DEFAULT_WARMUP
    max_runs: int = DEFAULT_MAX_RUNS
    min_bytes: int = DEFAULT_MIN_BYTES
    min_objects: int = DEFAULT_MIN_OBJECTS
    mode: str = "item"
    tracing: str = "auto"
    resources: bool = True
    ignore_types: frozenset[str] = frozenset()
    allow: tuple[str, ...] = ()
    settle_time: float = DEFAULT_SETTLE_TIME
    json_path: str | None = None
    html_path: str | None = None
    baseline_path: str | None = None
    update_baseline: bool = False
    max_memory: int | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Resolve CLI-then-ini-then-default once, validating ini values."""
        ini_all, ini_enabled = (
            _ini_bool(config, "leakguard_all"),
            _ini_bool(config, "leakguard"),
        )
        check_all = bool(config.getoption("leakguard_all")) or ini_all
        enabled = check_all or bool(config.getoption("leakguard")) or ini_enabled
        runs = _value(config, "leakguard_runs", positive_int, DEFAULT_RUNS)
        return cls(
            enabled=enabled,
            check_all=check_all,
            runs=runs,
            warmup=_value(config, "leakguard_warmup", non_negative_int, DEFAULT_WARMUP),
            max_runs=max(
                runs,
                _value(config, "leakguard_max_runs", positive_int, DEFAULT_MAX_RUNS),
            ),
            min_bytes=_value(config, "leakguard_min_bytes", size, DEFAULT_MIN_BYTES),
            min_objects=_value(
                config, "leakguard_min_objects", positive_int, DEFAULT_MIN_OBJECTS
            ),
            mode=_value(config, "leakguard_mode", mode, "item"),
            tracing=_value(config, "leakguard_tracing", tracing, "auto"),
            resources=_ini_bool(config, "leakguard_resources", default=True),
            ignore_types=frozenset(_lines(config, "leakguard_ignore_types")),
            allow=tuple(_lines(config, "leakguard_allow")),
            settle_time=_value(
                config, "leakguard_settle_time", non_negative_float, DEFAULT_SETTLE_TIME
            ),
            json_path=_path(config, "leakguard_json"),
            html_path=_path(config, "leakguard_html"),
            baseline_path=_path(config, "leakguard_baseline")
            or (
                DEFAULT_BASELINE
                if config.getoption("leakguard_update_baseline")
                else None
            ),
            update_baseline=bool(config.getoption("leakguard_update_baseline")),
            max_memory=_value(config, "leakguard_max_memory", size, None) or None,
        )


def register(parser: pytest.Parser) -> None:
    """Add the ``leakguard`` option group and the ini keys."""
    group = parser.getgroup("leakguard", "pytest-leakguard: fail tests that leak")
    group.addoption(
        "--leakguard", action="store_true", dest="leakguard", help=ENABLE_HELP
    )
    group.addoption(
        "--leakguard-all", action="store_true", dest="leakguard_all", help=ALL_HELP
    )
    _add_valued(parser, group, "runs", positive_int, RUNS_HELP)
    _add_valued(parser, group, "warmup", non_negative_int, WARMUP_HELP)
    _add_valued(parser, group, "max-runs", positive_int, MAX_RUNS_HELP)
    _add_valued(parser, group, "min-bytes", size, MIN_BYTES_HELP)
    _add_valued(parser, group, "min-objects", positive_int, MIN_OBJECTS_HELP)
    _add_valued(parser, group, "mode", mode, MODE_HELP)
    _add_valued(parser, group, "tracing", tracing, TRACING_HELP)
    _add_valued(parser, group, "settle-time", non_negative_float, SETTLE_HELP)
    _add_valued(parser, group, "max-memory", size, MAX_MEMORY_HELP)
    group.addoption(
        "--leakguard-json", dest="leakguard_json", metavar="PATH", help=JSON_HELP
    )
    group.addoption(
        "--leakguard-html", dest="leakguard_html", metavar="PATH", help=HTML_HELP
    )
    group.addoption(
        "--leakguard-baseline",
        dest="leakguard_baseline",
        metavar="PATH",
        help=BASELINE_HELP,
    )
    group.addoption(
        "--leakguard-update-baseline",
        action="store_true",
        dest="leakguard_update_baseline",
        help=UPDATE_BASELINE_HELP,
    )
    parser.addini("leakguard", ENABLE_HELP, type="bool", default=False)
    parser.addini("leakguard_all", ALL_HELP, type="bool", default=False)
    parser.addini("leakguard_resources", RESOURCES_HELP, type="bool", default=True)
    parser.addini(
        "leakguard_ignore_types", IGNORE_TYPES_HELP, type="linelist", default=[]
    )
    parser.addini("leakguard_allow", ALLOW_HELP, type="linelist", default=[])
    parser.addini("leakguard_json", JSON_HELP, default="")
    parser.addini("leakguard_html", HTML_HELP, default="")
    parser.addini("leakguard_baseline", BASELINE_HELP, default="")


def _add_valued(
    parser: pytest.Parser,
    group: Any,
    name: str,
    parse: Callable[[str], object],
    help_text: str,
) -> None:
    dest = "leakguard_" + name.replace("-", "_")
    group.addoption(
        f"--leakguard-{name}",
        dest=dest,
        type=_argparse_type(parse),
        default=None,
        help=help_text,
    )
    parser.addini(dest, help_text, default="")


def _argparse_type(parse: Callable[[str], T]) -> Callable[[str], T]:
    """Turn a validator's ValueError into argparse's own error message."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _value(
    config: pytest.Config, dest: str, parse: Callable[[Any], T], default: T
) -> T:
    cli = config.getoption(dest)
    if cli is not None:
        return cli  # type: ignore[no-any-return]
    raw = config.getini(dest)
    if raw in ("", None):
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise pytest.UsageError(f"invalid {dest} {raw!r} in ini: {exc}") from None


def _path(config: pytest.Config, dest: str) -> str | None:
    return config.getoption(dest) or (str(config.getini(dest)) or None)


def _ini_bool(config: pytest.Config, name: str, default: bool = False) -> bool:
    try:
        return bool(config.getini(name))
    except ValueError as exc:
        raise pytest.UsageError(f"invalid {name} in ini: {exc}") from None


def _lines(config: pytest.Config, name: str) -> list[str]:
    return [line.strip() for line in config.getini(name) if line.strip()]


def positive_int(value: object) -> int:
    """A whole number >= 1 (runs, objects per run)."""
    number = _int(value)
    if number < 1:
        raise ValueError(f"{value!r} must be a positive integer")
    return number


def non_negative_int(value: object) -> int:
    """A whole number >= 0 (warm-up runs may be zero)."""
    number = _int(value)
    if number < 0:
        raise ValueError(f"{value!r} must be zero or a positive integer")
    return number


def non_negative_float(value: object) -> float:
    """Seconds, zero or more."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if not number >= 0 or number == float("inf"):
        raise ValueError(f"{value!r} must be a finite number of seconds >= 0")
    return number


def size(value: object) -> int:
    """Bytes, as ``units.parse_size`` reads them."""
    return parse_size(value)


def mode(value: object) -> str:
    """One of ``MODES``."""
    if value not in MODES:
        raise ValueError(
            f"{value!r} is not a mode: use one of {', '.join(map(repr, MODES))}"
        )
    return str(value)


def tracing(value: object) -> str:
    """One of ``TRACINGS``."""
    if value not in TRACINGS:
        raise ValueError(
            f"{value!r} is not a tracing choice: use one of {', '.join(map(repr, TRACINGS))}"
        )
    return str(value)


def _int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"{value!r} is not an integer")
