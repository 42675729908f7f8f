"""What the ``unit`` marker promises, checked: a unit test module uses no AWS emulation.

A module uses the emulation when one of its globals comes from moto, or from the offline parts
of the CLI that start it (``pushgate_cli.offline``, ``pushgate_cli.rehearse``,
``pushgate_cli.ecs_sim``). Such tests are ``aws`` or ``statemachine`` tests: tests/conftest.py
fails every ``unit`` test whose module does.
"""

from __future__ import annotations

from types import ModuleType

EMULATION_PACKAGES = (
    "moto",
    "pushgate_cli.offline",
    "pushgate_cli.rehearse",
    "pushgate_cli.ecs_sim",
    "pushgate_cli.ecs_tasks",
)


def emulation_used_by(module: ModuleType) -> list[str]:
    """The names in ``module``'s globals that come from the AWS emulation, sorted."""
    return sorted(name for name, value in vars(module).items() if _is_emulation(_origin(value)))


def _is_emulation(origin: str) -> bool:
    return any(origin == p or origin.startswith(f"{p}.") for p in EMULATION_PACKAGES)


def _origin(value: object) -> str:
    if isinstance(value, ModuleType):
        return value.__name__
    origin = getattr(value, "__module__", None)
    return origin if isinstance(origin, str) else ""
