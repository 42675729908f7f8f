"""Where a project's revisions are: config discovery the way alembic finds it.

``MIGRATIONS_DIR`` (or ``pushgate rehearse --migrations``) may name:

- a project root with ``alembic.ini``: its ``script_location`` (``%(here)s`` is the ini's
  directory; a relative path is taken from there, where ``alembic`` is run) and
  ``version_locations`` (split as alembic splits them, ``path_separator``), with a
  ``pyproject.toml`` beside it read too, as alembic does;
- a project root whose ``pyproject.toml`` has ``[tool.alembic]`` (alembic 1.16+);
- a bare script directory: ``versions/``, with or without ``env.py``.

The project's env.py is never run (pushgate runs revisions in its own environment,
:mod:`~pushgate.migrator.environment`); it is only located, for ``check-migrations`` to read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config

from pushgate.errors import InvalidRequest


@dataclass(frozen=True)
class MigrationProject:
    """A project's script directory and version locations, and where they were found."""

    root: Path  # what was named
    script_location: Path
    version_locations: tuple[Path, ...]
    recursive: bool  # recursive_version_locations
    found_in: str  # "alembic.ini", "pyproject.toml" or "script directory"

    @property
    def env_py(self) -> Path | None:
        """The project's env.py, when it has one (never run)."""
        path = self.script_location / "env.py"
        return path if path.is_file() else None


def _resolve(base: Path, value: str) -> Path:
    if ":" in value and not Path(value).exists() and not value.startswith("/"):
        raise InvalidRequest(
            f"script_location {value!r} names a Python package resource; pushgate needs a "
            "directory path (use %(here)s/...)"
        )
    path = Path(value)
    return (path if path.is_absolute() else base / path).resolve()


def _from_config(root: Path, config: Config, found_in: str) -> MigrationProject:
    location = config.get_alembic_option("script_location")
    if not isinstance(location, str) or not location.strip():
        raise InvalidRequest(f"{root / found_in} has no script_location")
    script_location = _resolve(root, location.strip())
    with warnings.catch_warnings():  # alembic's legacy-separator deprecation: not ours to show
        warnings.simplefilter("ignore")
        listed = config.get_version_locations_list()
    versions = (
        tuple(_resolve(root, item) for item in listed if item.strip())
        if listed
        else (script_location / "versions",)
    )
    for path in (script_location, *versions):
        if not path.is_dir():
            raise InvalidRequest(f"{root / found_in} names {path}, which is not a directory")
    return MigrationProject(
        root=root,
        script_location=script_location,
        version_locations=versions,
        recursive=config.get_alembic_boolean_option("recursive_version_locations"),
        found_in=found_in,
    )


def _has_tool_alembic(pyproject: Path) -> bool:
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"{pyproject} cannot be read: {exc}") from exc
    tool = data.get("tool")
    return isinstance(tool, dict) and isinstance(tool.get("alembic"), dict)


def find_project(path: Path) -> MigrationProject:
    """The project at ``path`` (see the module docstring). InvalidRequest when it is none."""
    root = Path(path).resolve()
    if not root.is_dir():
        raise InvalidRequest(f"{path} is not a directory")
    ini, pyproject = root / "alembic.ini", root / "pyproject.toml"
    toml = pyproject if pyproject.is_file() and _has_tool_alembic(pyproject) else None
    if ini.is_file():
        return _from_config(
            root, Config(str(ini), toml_file=str(toml) if toml else None), "alembic.ini"
        )
    if toml is not None:
        return _from_config(root, Config(toml_file=str(toml)), "pyproject.toml")
    if (root / "versions").is_dir():
        return MigrationProject(root, root, (root / "versions",), False, "script directory")
    raise InvalidRequest(
        f"{path} is not an alembic project: no alembic.ini, no [tool.alembic] in "
        "pyproject.toml, no versions/ directory"
    )
