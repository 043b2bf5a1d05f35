"""Who holds a leaked object: a reference path from a root, in Python terms.

Like LeakCanary's leak trace: ``myapp.cache._CACHE (dict) -> ['user:42'] (User)``.
Roots are module globals, class attributes and the frames of running code.
The search walks referrers breadth-first, one ``gc.get_referrers`` call per
level for the whole frontier, and only ever runs for a test that leaked.
"""

from __future__ import annotations

import gc
import os
import sys
import types
from collections.abc import Callable
from typing import Any

from .redact import safe_repr

MAX_DEPTH = 16
MAX_VISITED = 20_000


def find_path(target: object, unfrozen: Callable[[], Any]) -> list[str] | None:
    """Steps from a root to ``target``, or None if no root was reached.

    :param unfrozen: a context manager factory that makes the whole heap
        visible to ``gc`` for the duration of the search.
    """
    modules = {
        id(vars(m)): name
        for name, m in list(sys.modules.items())
        if m is not None and hasattr(m, "__dict__")
    }
    with unfrozen():
        chain = _search(target, modules)
    if chain is None:
        return None
    return _format(chain, modules)


def _search(target: object, modules: dict[int, str]) -> list[Any] | None:
    parents: dict[int, Any] = {id(target): None}
    keep = [target]  # ids stay valid while the objects are alive
    frontier = [target]
    own = {id(parents), id(keep), id(frontier), id(sys._getframe())}
    for _ in range(MAX_DEPTH):
        own.add(id(frontier))
        next_frontier = []
        for referrer in gc.get_referrers(*frontier):
            if id(referrer) in own or id(referrer) in parents or _is_ours(referrer):
                continue
            child = _child_of(referrer, frontier)
            if child is None:
                continue
            parents[id(referrer)] = child
            keep.append(referrer)
            if _is_root(referrer, modules):
                return _unwind(referrer, parents)
            next_frontier.append(referrer)
            if len(parents) > MAX_VISITED:
                return None
        if not next_frontier:
            return None
        frontier = next_frontier
    return None


def _child_of(referrer: Any, frontier: list[Any]) -> Any | None:
    try:
        referents = {id(r) for r in gc.get_referents(referrer)}
    except Exception:
        return None
    for candidate in frontier:
        if id(candidate) in referents:
            return candidate
    return None


def _unwind(root: Any, parents: dict[int, Any]) -> list[Any]:
    chain = [root]
    node = parents[id(root)]
    while node is not None:
        chain.append(node)
        node = parents.get(id(node))
    return chain


def _is_ours(obj: Any) -> bool:
    if isinstance(obj, types.FrameType):
        return obj.f_code.co_filename.startswith(_PACKAGE_DIR)
    return False


def _is_root(obj: Any, modules: dict[int, str]) -> bool:
    return id(obj) in modules or isinstance(obj, (type, types.FrameType))


def _format(chain: list[Any], modules: dict[int, str]) -> list[str]:
    root = chain[0]
    steps = [_root_label(root, modules)]
    for parent, child in zip(chain, chain[1:], strict=False):
        steps.append(f"{_edge(parent, child, modules)} ({_type_label(child)})")
    return _collapse(steps)


def _root_label(root: Any, modules: dict[int, str]) -> str:
    if id(root) in modules:
        return modules[id(root)]
    if isinstance(root, type):
        return f"{root.__module__}.{root.__qualname__}"
    code = root.f_code
    return f"frame {code.co_name}() at {code.co_filename}:{root.f_lineno}"


def _edge(parent: Any, child: Any, modules: dict[int, str]) -> str:
    try:
        if isinstance(parent, dict):
            for key, value in list(parent.items()):
                if value is child:
                    if id(parent) in modules or _is_instance_dict(parent):
                        return f".{key}"
                    return f"[{safe_repr(key, 40)}]"
                if key is child:
                    return "(dict key)"
        if isinstance(parent, (list, tuple)):
            for index, value in enumerate(parent):
                if value is child:
                    return f"[{index}]"
        if isinstance(parent, (set, frozenset)):
            return "(set member)"
        if isinstance(parent, types.FrameType):
            for name, value in parent.f_locals.items():
                if value is child:
                    return f"local {name}"
        if isinstance(parent, types.CellType):
            return "(closure cell)"
        if isinstance(parent, type):
            for name, value in vars(parent).items():
                if value is child:
                    return f".{name}"
        attrs = object.__getattribute__(parent, "__dict__") if _has_dict(parent) else {}
        if attrs is child:
            return "(__dict__)"
        for name, value in attrs.items():
            if value is child:
                return f".{name}"
    except Exception:
        pass
    return f"({type(parent).__name__} internals)"


def _has_dict(obj: Any) -> bool:
    return any("__dict__" in vars(k) for k in type(obj).__mro__)


def _is_instance_dict(candidate: dict[Any, Any]) -> bool:
    for referrer in gc.get_referrers(candidate):
        try:
            if (
                _has_dict(referrer)
                and object.__getattribute__(referrer, "__dict__") is candidate
            ):
                return True
        except Exception:
            continue
    return False


def _type_label(obj: Any) -> str:
    kind = type(obj)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _collapse(steps: list[str]) -> list[str]:
    """Fold ``(__dict__)`` hops into the attribute that follows them."""
    return [step for step in steps if not step.startswith("(__dict__)")]


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
