"""Resource checkers: what a test opened or registered and did not give back."""

from __future__ import annotations

from .base import Resource, ResourceChecker

# Kinds that come from warnings rather than a checker's snapshot.
WARNING_KINDS = ("unclosed",)


def builtin_checkers() -> list[ResourceChecker]:
    """One instance of every built-in checker, in report order.

    Built at session start: some constructors register the audit hooks that
    record where resources are created.
    """
    from .asyncio_tasks import AsyncioChecker
    from .atexit_callbacks import AtexitChecker
    from .databases import DatabaseChecker
    from .fds import FdChecker
    from .files import FileChecker
    from .logging_handlers import LoggingHandlerChecker
    from .processes import ProcessChecker
    from .signals import SignalHandlerChecker
    from .sockets import SocketChecker
    from .sys_hooks import SysHookChecker
    from .threads import ThreadChecker

    return [
        SocketChecker(),
        FileChecker(),
        FdChecker(),
        DatabaseChecker(),
        ThreadChecker(),
        ProcessChecker(),
        AsyncioChecker(),
        LoggingHandlerChecker(),
        SignalHandlerChecker(),
        AtexitChecker(),
        SysHookChecker(),
    ]


__all__ = ["WARNING_KINDS", "Resource", "ResourceChecker", "builtin_checkers"]
