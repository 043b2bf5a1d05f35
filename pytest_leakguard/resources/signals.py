"""Signal handlers a test installed with ``signal.signal`` and did not restore.

A leftover ``SIGTERM`` or ``SIGINT`` handler changes how every later test (and
the pytest process itself) reacts to Ctrl-C or to a CI runner's timeout, and it
keeps its closure, often a whole server object, alive until exit.

``signal.getsignal`` only reads the interpreter's handler table, so a snapshot
is one cheap call per signal.  The identity is the signal name plus the
handler's identity, which means a handler replaced and restored before teardown
is not reported, while a test that *changes* a handler (even to ``SIG_IGN`` or
back to ``SIG_DFL``) is.

While installed, the checker wraps ``signal.signal`` to count calls: when no
call happened since the last snapshot, the table cannot have changed and the
last answer is reused (a snapshot then costs nothing).  Code that bound the
function before the session (``from signal import signal``) bypasses the
count; its change is seen at the next counted call.

A process started with SIGINT ignored (a background job of a shell without
job control: ``cmd &`` in a script or CI step) keeps ``SIG_IGN`` rather than
Python's ``default_int_handler``.  asyncio's ``remove_signal_handler`` and
``loop.close()`` put ``default_int_handler`` back whatever was there before,
so in such a run a test that cleaned up moves SIGINT to it.  That handler
is what any foreground run has and holds nothing: it is not reported there.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable, Iterable
from typing import Any

from .base import Resource
from .sys_hooks import callable_name, definition_site

#: ``_signal.getsignal`` (C) skips the public function's Enum wrapping of
#: SIG_DFL/SIG_IGN, which costs about a microsecond per signal.
_getsignal: Callable[[int], object] = getattr(
    sys.modules.get("_signal"), "getsignal", signal.getsignal
)

#: SIGKILL and SIGSTOP cannot be caught; asking about them only wastes time.
_UNCATCHABLE = frozenset(
    getattr(signal, name) for name in ("SIGKILL", "SIGSTOP") if hasattr(signal, name)
)


def _signal_names() -> tuple[tuple[int, str], ...]:
    """``(number, name)`` for every catchable signal, computed once."""
    # Plain ints and one pass over the names: an Enum conversion per signal
    # cost a sixth of a millisecond at start-up.
    named: dict[int, str] = {}
    for name, member in signal.Signals.__members__.items():
        named.setdefault(int(member), name)  # the first name is the canonical one
    numbers = getattr(sys.modules.get("_signal"), "valid_signals", signal.valid_signals)
    return tuple(
        (int(signum), named.get(int(signum)) or f"SIG{int(signum)}")  # real-time ones
        for signum in sorted(numbers())
        if signum not in _UNCATCHABLE
    )


#: ``_signal.getsignal`` answers with plain ints for these two.
_NAMED = {int(signal.SIG_DFL): "SIG_DFL", int(signal.SIG_IGN): "SIG_IGN"}


def _handler_identity(handler: object) -> str:
    """``SIG_DFL``/``SIG_IGN``/``None`` by name, any callable by ``id()``."""
    if handler is None:
        return "None"
    if isinstance(handler, int):
        return _NAMED.get(int(handler), str(int(handler)))
    return f"{id(handler):x}"


def _handler_name(handler: object) -> str:
    if handler is None:
        return "a handler installed outside Python"
    if isinstance(handler, int):
        return _NAMED.get(int(handler), str(int(handler)))
    return callable_name(handler)


class SignalHandlerChecker:
    """Finds signal handlers changed by a test and left in place.

    :param signals: restrict the check to these signal numbers (default: all
        valid signals except SIGKILL and SIGSTOP).
    """

    kind = "signal-handler"

    def __init__(self, signals: Iterable[int] | None = None) -> None:
        names = _signal_names()
        if signals is not None:
            wanted = set(signals)
            names = tuple(pair for pair in names if pair[0] in wanted)
        self._signals = names
        self._numbers = tuple(signum for signum, _ in names)
        self._last_ids: tuple[int, ...] = ()
        self._last_keys: frozenset[str] = frozenset()
        self._original: Any = None
        self._calls = 0
        self._calls_seen = -1
        #: SIGINT was ignored when the session began (inherited from the
        #: launching shell): its return to Python's default is no leftover.
        self._sigint_ignored = _getsignal(signal.SIGINT) == signal.SIG_IGN

    def install(self) -> None:
        """Count ``signal.signal`` calls from now on; idempotent."""
        if self._original is not None:
            return
        original: Any = signal.signal
        self._original = original

        @functools.wraps(original)
        def counted(signalnum: Any, handler: Any) -> Any:
            try:
                return original(signalnum, handler)
            finally:
                self._calls += 1

        signal.signal = counted

    def uninstall(self) -> None:
        """Put ``signal.signal`` back, if nobody replaced our wrapper since."""
        original, self._original = self._original, None
        current: Any = signal.signal
        if original is not None and getattr(current, "__wrapped__", None) is original:
            signal.signal = original  # type: ignore[assignment]
        self._calls_seen = -1

    def _current(self) -> dict[str, tuple[str, object]]:
        found: dict[str, tuple[str, object]] = {}
        getsignal = _getsignal
        for signum, name in self._signals:
            try:
                handler = getsignal(signum)
            except (OSError, ValueError, RuntimeError):
                continue
            found[f"{name}={_handler_identity(handler)}"] = (name, handler)
        return found

    def snapshot(self) -> frozenset[str]:
        """``SIGNAME=handler-identity`` for every catchable signal.

        Keys are rebuilt only when some handler's ``id()`` changed since the
        last call, which keeps the usual call at a few microseconds.  Only the
        ids are remembered, never the handlers.  With no ``signal.signal``
        call since the last snapshot, the last answer stands.
        """
        if self._original is not None and self._calls == self._calls_seen:
            return self._last_keys
        calls = self._calls
        try:
            ids = tuple(map(id, map(_getsignal, self._numbers)))
        except (OSError, ValueError, RuntimeError):
            return frozenset(self._current())
        if ids != self._last_ids:
            self._last_keys = frozenset(self._current())
            self._last_ids = ids
        self._calls_seen = calls
        return self._last_keys

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Name the handlers still installed under ``keys`` and where they are from."""
        current = self._current()
        found = []
        for key in sorted(set(keys) & current.keys()):
            name, handler = current[key]
            if (
                self._sigint_ignored
                and name == "SIGINT"
                and handler is signal.default_int_handler
            ):
                continue  # see the module's docstring
            target = _handler_name(handler)
            site = None if isinstance(handler, int) else definition_site(handler)
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=f"signal {name} -> {target}",
                    site=site,
                    fingerprint=f"{self.kind}:{name}:{target}",
                )
            )
        return found
