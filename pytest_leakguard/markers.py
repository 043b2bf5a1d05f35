"""The ``leakguard`` and ``no_leakguard`` markers and the per-test ``MarkSpec``.

Marker arguments are validated by calling a plain function whose signature
*is* the marker's API (pytest-django's habit), so Python itself rejects
unknown or positional arguments, and the help line cannot drift from it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple

import pytest

from . import options
from .options import Settings

MARKER = "leakguard"
OPT_OUT_MARKER = "no_leakguard"


def leakguard(
    *,
    runs: int | None = None,
    warmup: int | None = None,
    max_runs: int | None = None,
    min_bytes: int | str | None = None,
    min_objects: int | None = None,
    mode: str | None = None,
    tracing: str | None = None,
    ignore_types: Iterable[str] = (),
    allow: Iterable[str] = (),
    resources: bool | None = None,
    max_memory: int | str | None = None,
) -> dict[str, Any]:
    """Repeat this test and fail it if its memory keeps growing.

    All arguments are optional and override the command line and ini file:
    ``runs``/``warmup``/``max_runs`` (how often to run), ``min_bytes`` (an int or
    a size such as ``'1 KiB'``) and ``min_objects`` (growth per run that counts),
    ``mode`` ('item' or 'call'), ``tracing`` ('auto' or 'always'), ``ignore_types`` (type names to disregard),
    ``allow`` ('kind:pattern' resources allowed to stay open), ``resources``
    (False skips the resource check), ``max_memory`` (a peak budget for the
    call, such as ``'50 MB'``).
    """
    checked: dict[str, Any] = {}
    for name, parse, value in (
        ("runs", options.positive_int, runs),
        ("warmup", options.non_negative_int, warmup),
        ("max_runs", options.positive_int, max_runs),
        ("min_bytes", options.size, min_bytes),
        ("min_objects", options.positive_int, min_objects),
        ("mode", options.mode, mode),
        ("tracing", options.tracing, tracing),
        ("max_memory", options.size, max_memory),
    ):
        if value is not None:
            checked[name] = parse(value)
    if resources is not None:
        if not isinstance(resources, bool):
            raise ValueError(f"resources={resources!r} must be True or False")
        checked["resources"] = resources
    if ignore_types:
        checked["ignore_types"] = frozenset(_strings("ignore_types", ignore_types))
    if allow:
        checked["allow"] = tuple(_strings("allow", allow))
    return checked


def no_leakguard(reason: str = "") -> str:
    """Do not check this test at all (neither memory nor resources)."""
    if not isinstance(reason, str):
        raise ValueError(f"reason={reason!r} must be a string")
    return reason


class MarkSpec(NamedTuple):
    """How one test is checked: session settings merged with its markers.

    :param repeat: run it several times and judge its memory (marked, or
        ``--leakguard-all``); otherwise only its resources are checked.
    """

    settings: Settings
    repeat: bool

    @property
    def resources(self) -> bool:
        return self.settings.resources


def register(config: pytest.Config) -> None:
    """Document the markers for ``--markers`` and ``--strict-markers``."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(runs=None, warmup=None, max_runs=None, min_bytes=None, "
        "min_objects=None, mode=None, tracing=None, ignore_types=(), allow=(), resources=None, max_memory=None): "
        + _first_line(leakguard.__doc__),
    )
    config.addinivalue_line(
        "markers", f"{OPT_OUT_MARKER}(reason=''): " + _first_line(no_leakguard.__doc__)
    )


class SpecLookup:
    """The ``MarkSpec`` of every collected item, for one collection.

    An item's markers are its own and its parents' (class, module, package):
    the items of one module share the latter, so each parent's chain is
    walked once, not once per item.  Build one per collection: markers added
    later are not seen.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._unmarked = _unmarked_spec(settings)
        #: parent node -> (its chain's leakguard markers, its opt-outs), closest first
        self._inherited: dict[
            pytest.Collector, tuple[list[pytest.Mark], list[pytest.Mark]]
        ] = {}

    def spec_for(self, item: pytest.Item) -> MarkSpec | None:
        """The ``MarkSpec`` of ``item``, or None when it is not checked at all.

        :raises pytest.UsageError: naming the test and the bad marker argument.
        """
        marks, opt_outs = self._inherited_by(item.parent)
        if item.own_markers:
            own_marks, own_opt_outs = _ours(item.own_markers)
            marks, opt_outs = own_marks + marks, own_opt_outs + opt_outs
        if not marks and not opt_outs and not self._settings.check_all:
            return self._unmarked  # most tests: one spec for all of them
        return _spec_of(item, self._settings, marks, opt_outs)

    def _inherited_by(
        self, parent: pytest.Collector | None
    ) -> tuple[list[pytest.Mark], list[pytest.Mark]]:
        """The markers of ``parent``'s chain, read once per parent."""
        if parent is None:
            return [], []
        found = self._inherited.get(parent)
        if found is None:
            found = self._inherited[parent] = _ours(parent.iter_markers())
        return found


def _ours(found: Iterable[pytest.Mark]) -> tuple[list[pytest.Mark], list[pytest.Mark]]:
    """(``leakguard`` markers, ``no_leakguard`` markers) among ``found``, in order."""
    marks, opt_outs = [], []
    for mark in found:
        if mark.name == MARKER:
            marks.append(mark)
        elif mark.name == OPT_OUT_MARKER:
            opt_outs.append(mark)
    return marks, opt_outs


def _spec_of(
    item: pytest.Item,
    settings: Settings,
    marks: list[pytest.Mark],
    opt_outs: list[pytest.Mark],
) -> MarkSpec | None:
    """The spec from ``item``'s markers (closest first), for a test that has
    some or when every test is repeated (unmarked ones share one spec)."""
    if opt_outs:
        _call(item, opt_outs[0], no_leakguard)
        return None
    overrides: dict[str, Any] = {}
    for mark in reversed(marks):  # closest marker last, so it wins
        overrides.update(_validated_mark(item, mark))
    merged = settings._replace(**overrides) if overrides else settings
    # A marker that only sets a budget does not ask for repetition.
    repeat = (
        any(set(m.kwargs) - {"max_memory"} or not m.kwargs for m in marks)
        or settings.check_all
    )
    if merged.max_runs < merged.runs:
        merged = merged._replace(max_runs=merged.runs)
    if not repeat and not merged.resources and not merged.max_memory:
        return None
    return MarkSpec(settings=merged, repeat=repeat)


@functools.lru_cache(maxsize=4)
def _unmarked_spec(settings: Settings) -> MarkSpec | None:
    """The spec of a test without markers: resources only, if at all."""
    if settings.max_runs < settings.runs:
        settings = settings._replace(max_runs=settings.runs)
    if not settings.resources and not settings.max_memory:
        return None
    return MarkSpec(settings=settings, repeat=False)


def _validated_mark(item: pytest.Item, mark: pytest.Mark) -> dict[str, Any]:
    result: dict[str, Any] = _call(item, mark, leakguard)
    return result


def _call(item: pytest.Item, mark: pytest.Mark, signature: Any) -> Any:
    try:
        return signature(*mark.args, **mark.kwargs)
    except (TypeError, ValueError) as exc:
        arguments = ", ".join(
            [repr(a) for a in mark.args]
            + [f"{k}={v!r}" for k, v in mark.kwargs.items()]
        )
        raise pytest.UsageError(
            f"{item.nodeid}: invalid @pytest.mark.{mark.name}({arguments}): {exc}"
        ) from None


def _strings(name: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, str):
        values = [values]
    result = list(values)
    for value in result:
        if not isinstance(value, str):
            raise ValueError(f"{name} entries must be strings, got {value!r}")
    return result


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0]
