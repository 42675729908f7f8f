"""Broken alembic projects, written as a user would have them: what the unit tests of the
project reading and the rehearsal's tests feed pushgate."""

from __future__ import annotations

from pathlib import Path

INI = b"[alembic]\nscript_location = %(here)s/migrations\n"
FIRST = 'revision = "aaaa00000001"\ndown_revision = None\n\ndef upgrade():\n    pass\n'
DEEP = "x = " + "+".join(["1"] * 200_000) + "\n"  # too deep for the parser: RecursionError


def broken_project(
    root: Path,
    *,
    ini: bytes | None = INI,
    toml: str | None = None,
    revisions: dict[str, str] | None = None,
    env: str | None = None,
) -> Path:
    versions = root / "migrations" / "versions"
    versions.mkdir(parents=True)
    if ini is not None:
        (root / "alembic.ini").write_bytes(ini)
    if toml is not None:
        (root / "pyproject.toml").write_text(toml)
    for name, source in ({"a1_first.py": FIRST} if revisions is None else revisions).items():
        (versions / name).write_text(source)
    if env is not None:
        (root / "migrations" / "env.py").write_text(env)
    return root


# (alembic.ini's bytes, pyproject.toml's text, the file named, what the message says)
BROKEN_CONFIGS = {
    "bad section header": (
        b"[alembic\nscript_location = migrations\n",
        None,
        "alembic.ini",
        "MissingSectionHeaderError",
    ),
    "not UTF-8": (
        b"[alembic]\n# caf\xe9\nscript_location = migrations\n",
        None,
        "alembic.ini",
        "UnicodeDecodeError",
    ),
    "interpolation of nothing": (
        b"[alembic]\nscript_location = %(nothere)s/migrations\n",
        None,
        "alembic.ini",
        "'nothere'",
    ),
    "duplicated key": (
        b"[alembic]\nscript_location = migrations\nscript_location = migrations\n",
        None,
        "alembic.ini",
        "option 'script_location' in section 'alembic' already exists",
    ),
    "an empty ini version_locations over a TOML int": (
        b"[alembic]\nscript_location = %(here)s/migrations\nversion_locations =\n",
        "[tool.alembic]\nversion_locations = 7\n",
        "alembic.ini",
        "version_locations is 7 (a TOML int), not a list of strings",
    ),
    "version_locations an int": (
        None,
        '[tool.alembic]\nscript_location = "migrations"\nversion_locations = 7\n',
        "pyproject.toml",
        "version_locations is 7 (a TOML int), not a list of strings",
    ),
    "version_locations of ints": (
        None,
        '[tool.alembic]\nscript_location = "migrations"\nversion_locations = [7]\n',
        "pyproject.toml",
        "not a list of strings",
    ),
    "script_location an int": (
        None,
        "[tool.alembic]\nscript_location = 5\n",
        "pyproject.toml",
        "script_location is 5 (a TOML int), not a string",
    ),
    "a TOML %(name)s naming nothing": (
        None,
        '[tool.alembic]\nscript_location = "%(nothere)s/migrations"\n',
        "pyproject.toml",
        "%(nothere)s, which has no value",
    ),
    "a TOML boolean that is not one": (
        None,
        '[tool.alembic]\nscript_location = "migrations"\nrecursive_version_locations = "yes"\n',
        "pyproject.toml",
        "boolean value expected",
    ),
}

# (revision files, the file named, what the message says)
BROKEN_REVISIONS = {
    "down_revision naming no revision": (
        {"a1.py": 'revision = "aaaa00000001"\ndown_revision = "ffffffffffff"\n'},
        "a1.py",
        "has down_revision ffffffffffff, which no revision file of the project declares",
    ),
    "depends_on naming no revision": (
        {"a1.py": FIRST, "b1.py": 'revision = "b1"\ndown_revision = None\ndepends_on = "zz"\n'},
        "b1.py",
        "has depends_on zz, which no revision file of the project declares",
    ),
    "a revision that is no literal": (
        {"a1.py": "revision = make_id()\ndown_revision = None\n"},
        "a1.py",
        "line 1: revision = make_id() is not a string literal",
    ),
    "a revision that is no string": (
        {"a1.py": "revision = 5\ndown_revision = None\n"},
        "a1.py",
        "revision = 5 is not a string literal",
    ),
    "a down_revision that is no string": (
        {"a1.py": 'revision = "a1"\ndown_revision = 5\n'},
        "a1.py",
        "line 2: down_revision = 5 is not None, a string literal or a tuple, list or set of string",
    ),
    "a revision too deep to parse": (
        {"a1.py": FIRST + DEEP},
        "a1.py",
        "RecursionError: nested too deeply to parse",
    ),
}
