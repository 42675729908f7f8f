"""`pushgate check-migrations DIR`: a project loaded as the Lambda runner would (no database)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
from pathlib import Path

import pytest
from pushgate.errors import InvalidRequest
from pushgate.migrator.project import find_project
from pushgate.migrator.sources import SHIPPED_MODULES
from pushgate_cli.main import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, main

pytestmark = pytest.mark.unit

PROJECTS = Path(__file__).resolve().parents[1] / "projects"


@pytest.mark.parametrize(
    ("project", "found_in", "script_location"),
    [
        ("stock_init", "alembic.ini", "stock_init/migrations"),
        ("pyproject_config", "alembic.ini", "pyproject_config/migrations"),
        ("concurrently", "script directory", "concurrently"),
        ("stock_init/migrations", "script directory", "stock_init/migrations"),
    ],
)
def test_config_is_found_the_way_alembic_finds_it(
    project: str, found_in: str, script_location: str
) -> None:
    """GIVEN a project root or a bare script directory WHEN discovered THEN its script
    location (alembic.ini's %(here)s, pyproject's [tool.alembic]) and versions/ are found."""
    found = find_project(PROJECTS / project)

    assert (found.found_in, found.script_location) == (found_in, PROJECTS / script_location)
    assert found.version_locations == (PROJECTS / script_location / "versions",)


def test_pyproject_alone_and_version_locations(tmp_path: Path) -> None:
    """GIVEN only a pyproject.toml with [tool.alembic] naming version_locations WHEN discovered
    THEN those locations are the revisions' directories."""
    (tmp_path / "db" / "one").mkdir(parents=True)
    (tmp_path / "db" / "two").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.alembic]\nscript_location = "%(here)s/db"\n'
        'version_locations = ["%(here)s/db/one", "db/two"]\n'
    )

    found = find_project(tmp_path)

    assert found.found_in == "pyproject.toml"
    assert found.version_locations == (tmp_path / "db" / "one", tmp_path / "db" / "two")


def test_a_directory_that_is_no_project_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest):
        find_project(tmp_path)


def test_a_lambda_project_is_reported_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN the app's env.py project WHEN checked THEN the revisions, head, env.py bypassed
    and what it carried (version_table) are printed, and the Lambda runner can run it."""
    code = main(["check-migrations", str(PROJECTS / "app_env")])

    out = capsys.readouterr().out
    assert code == EXIT_OK
    assert "appe0001 -> appe0002" in out
    assert "head:              appe0002" in out
    assert "bypassed" in out
    assert "carries VersionTable=shopapp_version" in out
    assert "runner:            lambda" in out


def test_a_revision_importing_the_service_needs_the_task_runner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a revision importing the service's models WHEN checked THEN exit 1, the task
    runner, naming the file and the import."""
    project = tmp_path / "stock_init"
    shutil.copytree(PROJECTS / "stock_init", project)
    (project / "migrations" / "versions" / "stoc0003_models.py").write_text(
        'revision = "stoc0003"\ndown_revision = "stoc0002"\nimport shopapp.models\n'
    )

    code = main(["check-migrations", str(project)])

    out = capsys.readouterr().out
    assert code == EXIT_UNEXPECTED
    assert "runner:            task" in out
    assert "stoc0003_models.py imports shopapp.models" in out


def test_an_env_py_looping_over_schemas_needs_the_task_runner(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(
        "from alembic import context\n"
        "for schema in ['a', 'b']:\n"
        "    context.configure(version_table_schema=schema)\n"
        "    context.run_migrations()\n"
    )

    code = main(["check-migrations", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == EXIT_UNEXPECTED
    assert "once per item of a loop" in out


def test_autocommit_blocks_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-migrations", str(PROJECTS / "concurrently")]) == EXIT_OK
    assert "autocommit block:  conc0002" in capsys.readouterr().out


def _exit_code(argv: list[str]) -> int | str | None:
    try:
        return main(argv)
    except SystemExit as exited:  # argparse's usage errors
        return exited.code


@pytest.mark.parametrize("arguments", [[], ["no-such-directory"], ["a", "b"]])
def test_bad_usage_exits_2(arguments: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """GIVEN no directory, a missing one or two WHEN checked THEN exit 2, without a traceback."""
    assert _exit_code(["check-migrations", *arguments]) == EXIT_USAGE
    assert "Traceback" not in capsys.readouterr().err


def test_what_a_revision_may_import_is_what_the_layer_ships() -> None:
    """GIVEN the modules a revision may import besides the standard library WHEN compared with
    the layer's pinned requirements THEN each comes from a distribution the layer installs."""
    requirements = Path(__file__).resolve().parents[2] / "layers" / "pushgate" / "requirements.txt"
    pinned = {
        re.split(r"[=<>\[ ]", line)[0].lower().replace("_", "-")
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    providers = importlib.metadata.packages_distributions()

    for module in SHIPPED_MODULES:
        assert {d.lower().replace("_", "-") for d in providers[module]} & pinned, module
