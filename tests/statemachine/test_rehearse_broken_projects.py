"""`pushgate rehearse --migrations DIR` on a broken project: the project is read as
run_migrations reads it, so it is refused on one line naming the file, exit 2, nothing run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.main import EXIT_USAGE, main

from tests.broken_projects import BROKEN_CONFIGS, BROKEN_REVISIONS, FIRST, broken_project
from tests.helpers import tables

pytestmark = pytest.mark.statemachine

# (the project's files, the file the message names, what it says)
CASES = {
    "bad section header": (
        {"ini": BROKEN_CONFIGS["bad section header"][0]},
        "alembic.ini",
        "MissingSectionHeaderError",
    ),
    "version_locations an int": (
        {"ini": None, "toml": BROKEN_CONFIGS["version_locations an int"][1]},
        "pyproject.toml",
        "not a list of strings",
    ),
    "down_revision naming no revision": (
        {"revisions": BROKEN_REVISIONS["down_revision naming no revision"][0]},
        "migrations/versions/a1.py",
        "which no revision file of the project declares",
    ),
    "a revision too deep to parse": (
        {"revisions": BROKEN_REVISIONS["a revision too deep to parse"][0]},
        "migrations/versions/a1.py",
        "RecursionError",
    ),
    "two heads": (
        {"revisions": {"a1.py": FIRST, "b1.py": FIRST.replace("aaaa", "bbbb")}},
        "migrations",
        "2 heads",
    ),
}


@pytest.mark.parametrize(("files", "culprit", "says"), CASES.values(), ids=CASES.keys())
def test_a_broken_project_is_one_line_and_exit_2(
    database_url: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    files: dict[str, Any],
    culprit: str,
    says: str,
) -> None:
    # GIVEN an empty database (one at another project's head is SchemaDrift, before any graph
    # question) and a broken project
    bundled = ["--migrations-source", "bundled"]
    root = broken_project(tmp_path / "project", **files)

    # WHEN it is rehearsed
    code = main(["rehearse", "--database-url", database_url, *bundled, "--migrations", str(root)])

    # THEN one line on stderr names the file and what is wrong, exit 2, the database untouched
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert "Traceback" not in captured.out + captured.err
    assert captured.err.startswith("pushgate rehearse: ")
    assert captured.err.count("\n") == 1
    assert str(root / culprit) in captured.err
    assert says in captured.err
    assert tables(database_url) == set()
