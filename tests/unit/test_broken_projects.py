"""Broken alembic projects: each is refused with InvalidRequest naming the file and what is
wrong, before anything runs (the project reading run_migrations and `pushgate check-migrations`
share), and `pushgate check-migrations` prints it on one line, exit 1, without a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from pushgate.errors import InvalidRequest
from pushgate.migrator.project import find_project
from pushgate.migrator.scripts import RevisionGraph
from pushgate.migrator.sources import read_revision_file
from pushgate_cli.check_migrations import check
from pushgate_cli.main import EXIT_OK, EXIT_UNEXPECTED, main

pytestmark = pytest.mark.unit

INI = b"[alembic]\nscript_location = %(here)s/migrations\n"
FIRST = 'revision = "aaaa00000001"\ndown_revision = None\n\ndef upgrade():\n    pass\n'
DEEP = "x = " + "+".join(["1"] * 200_000) + "\n"  # too deep for the parser: RecursionError


def _project(
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
        "line 2: down_revision = 5 is not None, a string literal or a tuple of string literals",
    ),
    "a revision too deep to parse": (
        {"a1.py": FIRST + DEEP},
        "a1.py",
        "RecursionError: nested too deeply to parse",
    ),
}


@pytest.mark.parametrize(
    ("ini", "toml", "culprit", "says"), BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys()
)
def test_a_broken_config_is_invalid_request_naming_the_file(
    tmp_path: Path, ini: bytes | None, toml: str | None, culprit: str, says: str
) -> None:
    """GIVEN an alembic.ini or [tool.alembic] alembic cannot read, or with a value of the wrong
    type WHEN the project is found THEN InvalidRequest names the file and what is wrong."""
    root = _project(tmp_path, ini=ini, toml=toml)

    with pytest.raises(InvalidRequest) as refused:
        find_project(root)

    assert str(root / culprit) in str(refused.value)
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("revisions", "culprit", "says"), BROKEN_REVISIONS.values(), ids=BROKEN_REVISIONS.keys()
)
def test_a_broken_revision_is_invalid_request_naming_the_file(
    tmp_path: Path, revisions: dict[str, str], culprit: str, says: str
) -> None:
    """GIVEN a revision file the graph cannot be built from WHEN the graph is read THEN
    InvalidRequest names the file and what is wrong."""
    root = _project(tmp_path, revisions=revisions)

    with pytest.raises(InvalidRequest) as refused:
        RevisionGraph(root)

    assert str(root / "migrations" / "versions" / culprit) in str(refused.value)
    assert says in str(refused.value)


def test_a_revision_too_deep_for_the_reader_is_invalid_request(tmp_path: Path) -> None:
    """GIVEN a revision the parser takes but whose tree is deeper than Python's recursion limit
    WHEN the file is read THEN InvalidRequest names it (no RecursionError escapes)."""
    path = tmp_path / "a1.py"
    path.write_text(FIRST + "x = " + "-" * 700 + "1\n")  # parsed; its visit recurses 1,400 deep

    with pytest.raises(InvalidRequest) as refused:
        read_revision_file(path)

    assert str(path) in str(refused.value)


def test_a_revision_without_the_function_to_run_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    """GIVEN a revision file without upgrade() WHEN its steps are built THEN InvalidRequest
    names it (not alembic's AttributeError)."""
    root = _project(tmp_path, revisions={"a1.py": 'revision = "a1"\ndown_revision = None\n'})
    graph = RevisionGraph(root)

    with pytest.raises(InvalidRequest, match=r"revision a1 \(a1.py\) has no upgrade\(\)"):
        graph.steps("upgrade", graph.pending("upgrade", "head", None))


@pytest.mark.parametrize(
    ("revisions", "says"),
    [
        ({"a1.py": FIRST, "b1.py": FIRST.replace("aaaa00000001", "bbbb00000001")}, "2 heads"),
        ({}, "has no revisions"),
    ],
    ids=["two heads", "no revision"],
)
def test_a_project_no_runner_can_deploy_is_not_lambda(
    tmp_path: Path, revisions: dict[str, str], says: str
) -> None:
    """GIVEN a project with two heads, or none WHEN checked THEN the runner line says it cannot
    be deployed and why, and the exit code is 1 (the Lambda refuses it)."""
    result = check(_project(tmp_path, revisions=revisions))

    runner = next(line for line in result.lines if line.startswith("runner:"))
    assert runner.startswith("runner:            none (it cannot be deployed: ")
    assert says in runner
    assert result.exit_code == EXIT_UNEXPECTED


def _check_migrations(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check-migrations", str(root)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, captured.out + captured.err


@pytest.mark.parametrize(
    ("ini", "toml", "culprit", "says"), BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys()
)
def test_check_migrations_prints_a_broken_config_on_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    ini: bytes | None,
    toml: str | None,
    culprit: str,
    says: str,
) -> None:
    """GIVEN a broken config WHEN `pushgate check-migrations` reads it THEN exit 1 and one line
    naming the file, no traceback."""
    root = _project(tmp_path, ini=ini, toml=toml)

    code, output = _check_migrations(root, capsys)

    assert code == EXIT_UNEXPECTED
    assert output.count("\n") == 1
    assert output.startswith(f"cannot run here: {root / culprit}")
    assert says in output


@pytest.mark.parametrize(
    ("revisions", "culprit", "says"), BROKEN_REVISIONS.values(), ids=BROKEN_REVISIONS.keys()
)
def test_check_migrations_prints_a_broken_revision_on_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    revisions: dict[str, str],
    culprit: str,
    says: str,
) -> None:
    root = _project(tmp_path, revisions=revisions)

    code, output = _check_migrations(root, capsys)

    assert code == EXIT_UNEXPECTED
    assert output.count("\n") == 1
    assert str(root / "migrations" / "versions" / culprit) in output
    assert says in output


def test_check_migrations_notes_an_env_py_too_deep_to_parse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN an env.py too deep to parse WHEN checked THEN it is noted as unreadable (env.py is
    never run: the Lambda runner is unaffected), exit 0, no traceback."""
    root = _project(tmp_path, env=DEEP)

    code, output = _check_migrations(root, capsys)

    assert code == EXIT_OK
    assert f"env.py:            {root / 'migrations' / 'env.py'}" in output
    assert "  cannot be parsed (nested too deeply); nothing read from it" in output


@pytest.mark.parametrize("revisions", [{"b1.py": FIRST.replace("aaaa", "bbbb")}, {}])
def test_check_migrations_exits_1_for_a_project_no_runner_can_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], revisions: dict[str, str]
) -> None:
    root = _project(tmp_path, revisions={"a1.py": FIRST, **revisions} if revisions else {})

    code, output = _check_migrations(root, capsys)

    assert code == EXIT_UNEXPECTED
    assert "runner:            none (it cannot be deployed: " in output
    assert "runner:            lambda" not in output
