"""How the gap patches are installed and undone, and what they may ask of the interpreter.

Every module in :mod:`pushgate_cli.offline.gaps` closes one gap: it has a docstring saying
what moto does and what AWS does instead, and ``install(patches, host)``, which replaces moto's
code through ``patches`` (so that leaving the interpreter undoes it) and reaches the running
:class:`~pushgate_cli.offline.machine.OfflineStepFunctions` only through :class:`Host`. Adding a
patch is adding a module there: :func:`gap_names` finds it.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Collection
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from pushgate_cli.offline import gaps
from pushgate_cli.offline.report import WaitKind


class UnknownGap(ValueError):
    """A gap named to be left open is not a module of pushgate_cli.offline.gaps."""


class Patches:
    """setattr that remembers the previous value, undone in reverse order."""

    _MISSING = object()

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def set(self, target: Any, name: str, value: Any) -> None:
        previous = vars(target).get(name, self._MISSING)
        self._undo.append((target, name, previous))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._undo:
            target, name, previous = self._undo.pop()
            if previous is self._MISSING:
                delattr(target, name)
            else:
                setattr(target, name, previous)


@dataclass(frozen=True)
class InProcessLambda:
    """A Lambda function whose handler runs in this process."""

    handler: Callable[[Any, Any], Any]
    arn: str
    memory_mb: int
    timeout_s: int


class Host(Protocol):
    """What a gap patch may use of the running interpreter."""

    @property
    def time_scale(self) -> float:
        """Seconds really slept per simulated second of a Wait or a Retry back-off."""
        ...

    def service_called(self, service: str, operation: str, parameters: dict[str, Any]) -> None:
        """A state is about to call ``service``'s ``operation`` (the on_service_call hooks)."""

    def in_process_lambda(self, function_name: str) -> InProcessLambda | None:
        """The handler registered for this function, if any."""

    def record_wait(self, env: Any, seconds: float, kind: WaitKind) -> None:
        """A Wait state, a Retry back-off, or a wait for a task token (answered: ``woken``;
        not: ``timeout``) of ``seconds`` in the execution of ``env``."""

    def token_waiting(self, env: Any) -> None:
        """A task of the execution of ``env`` waits for its task token: answer it now or never."""

    def capture_events(self, entries: list[dict[str, Any]]) -> None:
        """Entries put on EventBridge."""


def gap_names() -> list[str]:
    """The gap modules, in order (``gap01_service_shapes``, ``gap02_jsonpath``, ...)."""
    return sorted(m.name for m in pkgutil.iter_modules(gaps.__path__) if m.name.startswith("gap"))


def gap_module(name: str) -> ModuleType:
    return importlib.import_module(f"{gaps.__name__}.{name}")


def install_gaps(patches: Patches, host: Host, *, leave_open: Collection[str] = ()) -> None:
    """Close every gap but those in ``leave_open`` (names from :func:`gap_names`)."""
    names = gap_names()
    unknown = sorted(set(leave_open) - set(names))
    if unknown:
        raise UnknownGap(f"no such gap: {', '.join(unknown)} (gaps: {', '.join(names)})")
    for name in names:
        if name not in leave_open:
            gap_module(name).install(patches, host)
