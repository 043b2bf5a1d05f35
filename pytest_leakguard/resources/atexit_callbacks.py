"""``atexit`` callbacks registered by a test and never unregistered.

Each leftover callback keeps its closure (a server, a temp directory, a
connection pool) alive until the interpreter exits and then runs at exit,
long after the test that owned it.

``atexit`` keeps its callbacks in a C array with no public way to list them.
Running them (``atexit._run_exitfuncs``) is out of the question, so the
checker combines two cheap sources:

* while installed, it wraps ``atexit.register`` and ``atexit.unregister`` and
  keeps a small record (name, definition site, registration site, a weak
  reference) of every callback registered through them;
* ``atexit._ncallbacks()`` (CPython) counts all callbacks, so registrations
  that bypassed the wrapper (a ``from atexit import register`` taken before
  the checker was installed) still show up, as "unidentified" ones.  Up to
  3.13 it counts *slots* (``unregister`` leaves a hole), on newer versions
  live callbacks; the wrapper measures how much each ``unregister`` lowered it,
  so ``count - count_at_install - registered + lowered`` is the number of
  bypassing registrations on either kind of interpreter.  A bypassing
  ``unregister`` on a slot-counting interpreter cannot be seen: such a pair
  would be reported once as an unidentified callback.

The wrappers are installed by the first ``snapshot()`` and stay until
``uninstall()``; each call costs a frame walk at registration time only.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import sys
import threading
import types
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import _pytest  # only for its location: registrations from inside it are pytest's
import pluggy

from .base import Resource
from .sys_hooks import callable_name, caller_site, definition_site

_UNIDENTIFIED = "unidentified"


class _Registration:
    """What we remember of one registered callback (no strong reference to it)
    (a plain class: a NamedTuple costs a fifth of a millisecond to define at start-up)."""

    __slots__ = ("name", "defined_at", "registered_at", "ref")

    def __init__(
        self,
        name: str,
        defined_at: str | None,
        registered_at: str | None,
        ref: Callable[[], object],  # usually a weak reference, see _weak()
    ) -> None:
        self.name = name
        self.defined_at = defined_at
        self.registered_at = registered_at
        self.ref = ref


def _weak(func: object) -> Callable[[], object]:
    """A weak reference where possible, else a strong one (atexit holds one too)."""
    try:
        if isinstance(func, types.MethodType):
            return weakref.WeakMethod(func)
        return weakref.ref(func)
    except TypeError:
        return lambda: func


def _matches(record: _Registration, func: object) -> bool:
    """``atexit.unregister`` semantics: the same or an equal callable."""
    registered = record.ref()
    if registered is None:
        return True  # it died, so atexit no longer holds it either
    try:
        return registered is func or bool(registered == func)
    except Exception:
        return False


def _wraps(current: object, original: object) -> bool:
    """Whether ``current`` is our wrapper of ``original`` (nobody replaced it since)."""
    return getattr(current, "__wrapped__", None) is original


_PYTEST_DIRS = tuple(
    os.path.dirname(module.__file__ or "") + os.sep for module in (_pytest, pluggy)
)


def _registered_by_pytest(frame: types.FrameType | None) -> bool:
    return frame is not None and frame.f_code.co_filename.startswith(_PYTEST_DIRS)


def _registered_at_import(frame: types.FrameType | None) -> bool:
    """Whether a module's body made the call, while the module was imported:
    ``multiprocessing.util`` registers its exit function so, once per
    process, whichever test imports it first (a doctest example's code is
    a module body too, and is let through the same way)."""
    return frame is not None and frame.f_code.co_name == "<module>"


def _once_per_process(func: object) -> bool:
    """The stdlib registers these once, the first time they are needed:
    ``weakref.finalize._exitfunc`` (on the first ``weakref.finalize``, made
    by ``tempfile.TemporaryDirectory`` for one)."""
    exitfunc = getattr(weakref.finalize, "_exitfunc", None)  # private, may go
    return exitfunc is not None and getattr(func, "__func__", None) is getattr(
        exitfunc, "__func__", None
    )


class AtexitChecker:
    """Finds callbacks added with ``atexit.register`` and still registered.

    Identity: a serial number and the callback's name for identified
    callbacks; ``unidentified#N`` for each callback the count says exists
    beyond those.
    """

    kind = "atexit"

    def __init__(self) -> None:
        self._records: dict[int, _Registration] = {}
        #: (serials, unidentified count) the last keys were built from.
        self._last_state: tuple[tuple[int, ...], int] | None = None
        self._last_keys: frozenset[str] = frozenset()
        #: (registered, lowered, callbacks in atexit) at the last snapshot.
        self._last_token: tuple[int, int, int] | None = None
        self._serials = itertools.count(1)
        self._lock = threading.Lock()
        self._original: tuple[Any, Any] | None = None
        self._count: Callable[[], int] | None = getattr(atexit, "_ncallbacks", None)
        self._base = 0  # count when installed
        self._registered = 0  # successful register() calls through the wrapper
        self._lowered = 0  # how much unregister() through the wrapper lowered count

    # -- installation ---------------------------------------------------------

    def install(self) -> None:
        """Wrap ``atexit.register``/``unregister``; idempotent."""
        if self._original is not None:
            return
        register: Any = atexit.register
        unregister: Any = atexit.unregister
        self._original = (register, unregister)
        self._base, self._registered, self._lowered = self._total(), 0, 0

        @functools.wraps(register)
        def recording_register(func: Any, /, *args: Any, **kwargs: Any) -> Any:
            result = register(func, *args, **kwargs)
            self._record(func, sys._getframe(1))
            return result

        @functools.wraps(unregister)
        def recording_unregister(func: Any, /) -> None:
            before = self._total()
            unregister(func)
            lowered = before - self._total()
            with self._lock:
                records = list(self._records.items())
            # compared outside the lock: a user __eq__ may itself use atexit
            gone = [serial for serial, record in records if _matches(record, func)]
            with self._lock:
                self._lowered += lowered
                for serial in gone:
                    self._records.pop(serial, None)

        atexit.register = recording_register
        atexit.unregister = recording_unregister

    def uninstall(self) -> None:
        """Put the original ``atexit`` functions back (if ours are still there)."""
        original, self._original = self._original, None
        if original is None:
            return
        register, unregister = original
        if _wraps(atexit.register, register):
            atexit.register = register
        if _wraps(atexit.unregister, unregister):
            atexit.unregister = unregister

    def _record(self, func: object, frame: types.FrameType | None) -> None:
        if (
            _registered_by_pytest(frame)
            or _once_per_process(func)
            or _registered_at_import(frame)
        ):
            # pytest's own once-per-session hooks (its temporary directories'
            # cleanup), the stdlib's once-per-process ones and those of a
            # module's import are nobody's leak: counted, never reported.
            del frame
            with self._lock:
                self._registered += 1
            return
        try:
            record = _Registration(
                name=callable_name(func),
                defined_at=definition_site(func),
                registered_at=caller_site(frame),
                ref=_weak(func),
            )
        except Exception:  # never make the user's atexit.register() fail
            record = _Registration(callable_name(func), None, None, _weak(func))
        finally:
            del frame  # break the frame -> locals -> frame cycle at once
        with self._lock:
            self._records[next(self._serials)] = record
            self._registered += 1

    # -- the checker protocol --------------------------------------------------

    def snapshot(self) -> frozenset[str]:
        """``#serial name`` per identified callback, ``unidentified#N`` for the rest."""
        self.install()
        token = (self._registered, self._lowered, self._total())
        if token == self._last_token:  # no register, unregister or clear since
            return self._last_keys
        with self._lock:
            if self._records:
                for serial, record in list(self._records.items()):
                    if record.ref() is None:  # died: atexit cannot hold it any more
                        del self._records[serial]
            serials = tuple(self._records)
        extra = self._unidentified()
        if (serials, extra) != self._last_state:  # usually nothing was registered
            with self._lock:
                keys = [
                    f"#{serial} {record.name}"
                    for serial, record in self._records.items()
                ]
            keys.extend(f"{_UNIDENTIFIED}#{n}" for n in range(1, extra + 1))
            self._last_keys = frozenset(keys)
            self._last_state = (serials, extra)
        self._last_token = token
        return self._last_keys

    def _total(self) -> int:
        if self._count is None:
            return 0
        try:
            return int(self._count())
        except Exception:
            return 0

    def _unidentified(self) -> int:
        total = self._total()
        with self._lock:
            if total == 0:  # atexit._clear() or exit handlers already ran
                self._records.clear()
                self._base, self._registered, self._lowered = 0, 0, 0
            expected = self._base + self._registered - self._lowered
        return max(total - expected, 0)

    def describe(self, keys: Iterable[str]) -> list[Resource]:
        """Name each callback still registered and where it was registered."""
        current = self.snapshot()
        found = []
        for key in sorted(set(keys) & current):
            if key.startswith(_UNIDENTIFIED):
                found.append(self._describe_unidentified(key))
                continue
            with self._lock:
                record = self._records.get(int(key[1:].split(" ", 1)[0]))
            if record is None:
                continue
            defined = f" (defined at {record.defined_at})" if record.defined_at else ""
            found.append(
                Resource(
                    kind=self.kind,
                    key=key,
                    description=f"atexit callback {record.name}{defined}",
                    site=record.registered_at,
                    fingerprint=f"{self.kind}:{record.name}",
                )
            )
        return found

    def _describe_unidentified(self, key: str) -> Resource:
        return Resource(
            kind=self.kind,
            key=key,
            description=(
                "atexit callback registered through a reference to atexit.register"
                " taken before leakguard started (not identifiable)"
            ),
            site=None,
            fingerprint=f"{self.kind}:{_UNIDENTIFIED}",
        )
