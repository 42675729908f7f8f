"""Reading required settings from the environment, the one way: all named, none defaulted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pushgate.errors import InvalidRequest


def required(environ: Mapping[str, str], names: Sequence[str]) -> tuple[str, ...]:
    """The stripped values of ``names``; InvalidRequest naming every one not set or blank."""
    missing = [name for name in names if not environ.get(name, "").strip()]
    if missing:
        raise InvalidRequest(f"required setting(s) not set: {', '.join(missing)}")
    return tuple(environ[name].strip() for name in names)
