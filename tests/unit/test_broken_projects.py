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
from pushgate_cli.check_migrations import check, usage_error
from pushgate_cli.main import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, main

from tests.broken_projects import (
    BROKEN_CONFIGS,
    BROKEN_REVISIONS,
    DEEP,
    FIRST,
    INI,
    broken_project,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("ini", "toml", "culprit", "says"), BROKEN_CONFIGS.values(), ids=BROKEN_CONFIGS.keys()
)
def test_a_broken_config_is_invalid_request_naming_the_file(
    tmp_path: Path, ini: bytes | None, toml: str | None, culprit: str, says: str
) -> None:
    """GIVEN an alembic.ini or [tool.alembic] alembic cannot read, or with a value of the wrong
    type WHEN the project is found THEN InvalidRequest names the file and what is wrong."""
    root = broken_project(tmp_path, ini=ini, toml=toml)

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
    root = broken_project(tmp_path, revisions=revisions)

    with pytest.raises(InvalidRequest) as refused:
        RevisionGraph(root)

    assert str(root / "migrations" / "versions" / culprit) in str(refused.value)
    assert says in str(refused.value)


VALID_GRAPHS = {
    "a merge, depends_on a set and a branch label": {
        "a1.py": 'revision = "aaaa00000001"\ndown_revision = None\nbranch_labels = ("core",)\n',
        "b1.py": 'revision = "bbbb00000001"\ndown_revision = None\nbranch_labels = {"extra"}\n',
        "c1.py": (
            'revision = "cccc00000001"\ndown_revision = ["aaaa00000001", "bbbb00000001"]\n'
            'depends_on = {"core", "bbbb00000001"}\n'
        ),
    },
}


@pytest.mark.parametrize("revisions", VALID_GRAPHS.values(), ids=VALID_GRAPHS.keys())
def test_a_valid_graph_that_names_labels_sets_and_merges_is_read(
    tmp_path: Path, revisions: dict[str, str]
) -> None:
    """GIVEN revisions whose down_revision is a list (a merge), and whose depends_on and
    branch_labels are sets naming a branch label and a revision, all of which alembic accepts
    WHEN the graph is read THEN it is, with the merge as its one head."""
    root = broken_project(tmp_path, revisions=revisions)

    assert RevisionGraph(root).head() == "cccc00000001"


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
    root = broken_project(tmp_path, revisions={"a1.py": 'revision = "a1"\ndown_revision = None\n'})
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
    result = check(broken_project(tmp_path, revisions=revisions))

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
    root = broken_project(tmp_path, ini=ini, toml=toml)

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
    root = broken_project(tmp_path, revisions=revisions)

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
    root = broken_project(tmp_path, env=DEEP)

    code, output = _check_migrations(root, capsys)

    assert code == EXIT_OK
    assert f"env.py:            {root / 'migrations' / 'env.py'}" in output
    assert "  cannot be parsed (nested too deeply); nothing read from it" in output


@pytest.mark.parametrize("revisions", [{"b1.py": FIRST.replace("aaaa", "bbbb")}, {}])
def test_check_migrations_exits_1_for_a_project_no_runner_can_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], revisions: dict[str, str]
) -> None:
    root = broken_project(tmp_path, revisions={"a1.py": FIRST, **revisions} if revisions else {})

    code, output = _check_migrations(root, capsys)

    assert code == EXIT_UNEXPECTED
    assert "runner:            none (it cannot be deployed: " in output
    assert "runner:            lambda" not in output


def test_what_dir_names_is_checked_before_path_makes_empty_the_current_directory(
    tmp_path: Path,
) -> None:
    """GIVEN DIR as typed: empty, missing, a file, a directory WHEN checked as usage THEN the
    empty one is refused (not the current directory), a file is "not a directory"."""
    (tmp_path / "alembic.ini").write_bytes(INI)

    assert usage_error("") == "DIR is empty: name a project directory (. for the current one)"
    assert usage_error(str(tmp_path / "nothing")) == f"{tmp_path / 'nothing'}: no such directory"
    assert usage_error(str(tmp_path / "alembic.ini")) == (
        f"{tmp_path / 'alembic.ini'}: not a directory (name the project's directory)"
    )
    assert usage_error(str(tmp_path)) is None


@pytest.mark.parametrize(
    ("name", "says"),
    [("", "DIR is empty"), ("alembic.ini", "not a directory"), ("nothing", "no such directory")],
    ids=["empty", "a file", "missing"],
)
def test_check_migrations_refuses_a_dir_that_is_not_one_as_bad_usage(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    says: str,
) -> None:
    """GIVEN DIR empty, a file, or missing (the current directory holding a project, so an
    empty DIR would have found one) WHEN `pushgate check-migrations DIR` THEN exit 2 and one
    line on stderr saying why, nothing checked."""
    (tmp_path / "alembic.ini").write_bytes(INI)
    monkeypatch.chdir(tmp_path)

    code = main(["check-migrations", name])

    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.out == ""
    assert captured.err.startswith("pushgate check-migrations: ")
    assert captured.err.count("\n") == 1
    assert says in captured.err
