"""The process's audit hook, made to hold nothing alive.

Audit hooks cannot be removed, and the interpreter holds them until the very
end of its shutdown.  A hook whose globals reach leakguard's modules keeps
those, and through them pytest's, alive past the collection that frees the
modules at exit; they are then freed the slow way, about 4 ms more per run.
Any function defined in a module reaches far: its globals hold the module's
loader, and pytest loads an installed plugin's modules with its assertion
rewriter, which holds the whole config.  So the hook that is added is
:data:`relay`: the code of :func:`_forward` with globals of its own, which
hold only the target and the events it wants, and the last session's end
disconnects that.  The relay drops other events itself: pytest raises a few
per test (``os.putenv``, ``object.__getattr__``) that no checker wants.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any

AuditHook = Callable[[str, tuple[Any, ...]], None]

#: Read by :func:`_forward`'s code; :data:`relay` reads its own copies in ``_slot``.
_target: AuditHook | None = None
_events: frozenset[str] = frozenset()


def _forward(event: str, args: tuple[Any, ...]) -> None:
    if event in _events:
        target = _target
        if target is not None:
            target(event, args)


_slot: dict[str, Any] = {"_target": None, "_events": frozenset()}
#: The hook to add once per process (see the module's docstring).
relay: AuditHook = FunctionType(_forward.__code__, _slot, "relay")


def connect(target: AuditHook, events: frozenset[str]) -> None:
    """Forward ``events`` to ``target(event, args)`` from now on."""
    _slot["_events"] = events
    _slot["_target"] = target


def disconnect() -> None:
    """Forward nothing (an event then costs one lookup) until :func:`connect`."""
    _slot["_target"] = None
    _slot["_events"] = frozenset()
