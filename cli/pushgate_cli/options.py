"""Command-line options checked before any work: what `pushgate rehearse`, `explain` and `bench`
refuse up front (exit 2, one line), so that nothing is run for an input that cannot be used.

Each check raises :class:`OptionError`, whose message names the option and says what is wrong
with it; a database URL is only ever shown redacted (:attr:`DatabaseSettings.redacted_url`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from pushgate.database import parse_database_url
from pushgate.database.connect import connected
from pushgate.errors import DatabaseConfigError, DatabaseNotReady

# how long `--service-python PATH -c "import alembic"` may take (an interpreter's cold start)
PYTHON_PROBE_TIMEOUT_SECONDS = 60.0


class OptionError(Exception):
    """An option's value cannot be used: refused before anything was run."""


def check_output_file(option: str, path: Path, *, makes_parents: bool) -> None:
    """``path`` can be written as a file: not a directory, and its directory exists and is
    writable (or, when the writer ``makes_parents``, its nearest existing ancestor is a
    writable directory)."""
    if path.is_dir():
        raise OptionError(f"{option} {path}: is a directory (a file is written there)")
    if path.exists() and not os.access(path, os.W_OK):
        raise OptionError(f"{option} {path}: the file is not writable")
    parent = path.absolute().parent
    if makes_parents:
        while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
            parent = parent.parent
    if not parent.exists():
        raise OptionError(f"{option} {path}: no such directory {parent}")
    if not parent.is_dir():
        raise OptionError(f"{option} {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OptionError(f"{option} {path}: the directory {parent} is not writable")


def check_directory(option: str, path: Path) -> None:
    """``path`` is an existing directory."""
    if not path.exists():
        raise OptionError(f"{option} {path}: no such directory")
    if not path.is_dir():
        raise OptionError(f"{option} {path}: not a directory")


def check_service_python(option: str, path: Path) -> None:
    """``path`` is a Python interpreter that imports alembic, with its ``alembic`` command beside
    it (the task runner runs the service's alembic from its interpreter's directory)."""
    if not path.exists():
        raise OptionError(f"{option} {path}: no such file")
    if path.is_dir():
        raise OptionError(f"{option} {path}: is a directory, not a Python interpreter")
    if not os.access(path, os.X_OK):
        raise OptionError(f"{option} {path}: not executable, so not a Python interpreter")
    try:
        probe = subprocess.run(
            [str(path), "-c", "import alembic"],
            capture_output=True,
            timeout=PYTHON_PROBE_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OptionError(f"{option} {path}: cannot be run as Python: {exc}") from None
    if probe.returncode != 0:
        raise OptionError(
            f'{option} {path}: `{path.name} -c "import alembic"` exits {probe.returncode}: not '
            "a Python interpreter with alembic installed"
        )
    alembic = path.parent / "alembic"
    if not (alembic.is_file() and os.access(alembic, os.X_OK)):
        raise OptionError(
            f"{option} {path}: no alembic command beside it ({alembic}), which the task runner runs"
        )


def check_database_url(option: str, url: str) -> None:
    """``url`` is a PostgreSQL URL whose server answers and accepts its credentials (one
    connection, opened and closed). The message shows the URL redacted, or not at all."""
    try:
        db = parse_database_url(url, name=option)
    except DatabaseConfigError as exc:
        raise OptionError(str(exc)) from None
    try:
        with connected(db):
            pass
    except (DatabaseNotReady, DatabaseConfigError) as exc:
        raise OptionError(f"{option} {db.redacted_url}: {type(exc).__name__}: {exc}") from None


def check_agreement(
    option: str, given: str | None, parameters: Mapping[str, str], key: str
) -> None:
    """An option and the template parameter it sets (``--parameter-overrides KEY=VALUE``)
    agree, when both are given."""
    if given is None or key not in parameters or parameters[key] == given:
        return
    raise OptionError(
        f"{option} {given} and --parameter-overrides {key}={parameters[key]} disagree: give "
        "one of them"
    )
