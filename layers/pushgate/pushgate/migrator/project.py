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

import configparser
import warnings
from dataclasses import dataclass
from pathlib import Path

from alembic.config import Config
from alembic.util import CommandError

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


# What alembic raises for a config it cannot read: configparser's errors (a bad section header,
# a duplicated key, a %(name)s naming no option), a file that is not in the locale's encoding,
# a bad path_separator (ValueError), a [tool.alembic] boolean that is not one (CommandError), and
# the %-substitution alembic applies to [tool.alembic]'s strings (KeyError for a %(name)s naming
# no value, TypeError for a %d); the types of its values are checked before alembic reads them.
_UNREADABLE_CONFIG = (
    configparser.Error,
    UnicodeDecodeError,
    ValueError,
    CommandError,
    KeyError,
    TypeError,
)


def _kind(value: object) -> str:
    return f"{value!r} (a TOML {type(value).__name__})"


def _check_toml_type(config: Config, name: str, toml: Path) -> None:
    """InvalidRequest unless [tool.alembic]'s ``name`` is absent or of the type alembic expects
    (script_location a string, version_locations a list of strings): alembic %-formats what it
    finds and fails untyped on anything else."""
    if config.file_config.has_option(config.config_ini_section, name):
        return  # the ini's value wins, as alembic reads it
    value = config.toml_alembic_config.get(name)
    if name == "script_location":
        wrong, expected = value is not None and not isinstance(value, str), "a string"
    else:
        wrong = value is not None and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        )
        expected = "a list of strings"
    if wrong:
        raise InvalidRequest(f"{toml}: [tool.alembic] {name} is {_kind(value)}, not {expected}")


def _read_options(config: Config, source: Path, toml: Path) -> tuple[str, list[str], bool]:
    """script_location, version_locations and recursive_version_locations, as alembic reads
    them; InvalidRequest naming the file for a value that is not a string (list)."""
    _check_toml_type(config, "script_location", toml)
    _check_toml_type(config, "version_locations", toml)
    location = config.get_alembic_option("script_location")
    if not isinstance(location, str) or not location.strip():
        raise InvalidRequest(f"{source} has no script_location")
    with warnings.catch_warnings():  # alembic's legacy-separator deprecation: not ours to show
        warnings.simplefilter("ignore")
        listed = config.get_version_locations_list() or []
    if not (isinstance(listed, list) and all(isinstance(item, str) for item in listed)):
        # an empty ini line falls back to [tool.alembic]'s value, unchecked above
        raise InvalidRequest(
            f"{source}: version_locations is {_kind(listed)}, not a list of strings"
        )
    return location, listed, config.get_alembic_boolean_option("recursive_version_locations")


def _unreadable(exc: Exception, source: Path, toml: Path) -> str:
    if isinstance(exc, KeyError):
        return f"{toml} cannot be read: [tool.alembic] names %({exc.args[0]})s, which has no value"
    culprit = toml if isinstance(exc, CommandError | TypeError) else source
    detail = " ".join(str(exc).split())  # configparser's messages span lines
    return f"{culprit} cannot be read: {type(exc).__name__}: {detail}"


def _from_config(root: Path, config: Config, found_in: str) -> MigrationProject:
    source, toml = root / found_in, root / "pyproject.toml"
    try:
        location, listed, recursive = _read_options(config, source, toml)
    except _UNREADABLE_CONFIG as exc:
        raise InvalidRequest(_unreadable(exc, source, toml)) from exc
    script_location = _resolve(root, location.strip())
    versions = (
        tuple(_resolve(root, item) for item in listed if item.strip())
        if listed
        else (script_location / "versions",)
    )
    for path in (script_location, *versions):
        if not path.is_dir():
            raise InvalidRequest(f"{source} names {path}, which is not a directory")
    return MigrationProject(
        root=root,
        script_location=script_location,
        version_locations=versions,
        recursive=recursive,
        found_in=found_in,
    )


def _has_tool_alembic(pyproject: Path) -> bool:
    import tomllib

    try:
        data = tomllib.loads(pyproject.read_bytes().decode())  # UTF-8, as alembic reads it
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: not UTF-8, not TOML
        raise InvalidRequest(f"{pyproject} cannot be read: {type(exc).__name__}: {exc}") from exc
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
