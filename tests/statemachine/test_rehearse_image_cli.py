"""`pushgate rehearse` reads the scripts from a pushed image, as a user runs it: by default an
image of examples/service pushed to docker-registry on loopback, or --image REF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pushgate_cli.main import EXIT_OK, EXIT_USAGE, main
from pushgate_cli.registry import Registry, project_image

from tests.helpers import HEAD, MIGRATIONS, revision

pytestmark = [pytest.mark.statemachine, pytest.mark.registry]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "service"


def test_by_default_the_lambda_runners_project_is_pushed_and_its_scripts_read_from_the_registry(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the default rehearsal runs (dev: the Lambda runner)
    code = main(["rehearse", "--database-url", database_url, "--start-revision", "previous"])
    # THEN it succeeded and says the scripts were read from the pushed image, by digest
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    line = next(line for line in out.splitlines() if line.startswith("scripts"))
    assert "migrations read from image " in line
    assert "/shop/api@sha256:" in line
    # AND the database is at migrations/' head: the project the Lambda runner can run
    assert revision(database_url) == HEAD


def test_with_the_task_runner_the_example_service_is_pushed_and_migrated_by_its_own_alembic(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the rehearsal runs with the task runner and no project named
    arguments = ["--database-url", database_url, "--start-revision", "previous"]
    code = main(["rehearse", "--runner", "task", *arguments])
    # THEN it succeeded with the scripts read from the pushed image of examples/service
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    line = next(line for line in out.splitlines() if line.startswith("scripts"))
    assert "/shop/api@sha256:" in line
    # AND the database is at the example service's head (its own scripts, not migrations/)
    versions = sorted((EXAMPLE / "migrations" / "versions").glob("*.py"))
    at = revision(database_url)
    assert at is not None
    assert at in versions[-1].name


def test_an_image_already_in_a_registry_is_rehearsed_by_its_digest(
    database_url: str, registry: Registry, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an image of migrations/ in a registry on loopback
    ref = registry.push(project_image(MIGRATIONS), repository="shop/api")
    # WHEN it is rehearsed with --image (plain HTTP allowed: loopback)
    arguments = ["--database-url", database_url, "--image", str(ref), "--insecure-registry"]
    code = main(["rehearse", *arguments, "--json"])
    # THEN the push carried its digest, the scripts were read from it, the schema is at head
    out = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK
    assert out["events"][-1]["Detail"]["digest"] == ref.digest
    assert out["scripts_image"].endswith(f"/shop/api@{ref.digest}")
    assert revision(database_url) == HEAD


@pytest.mark.parametrize(
    "arguments",
    [
        ["--image", "shop/api:latest"],  # by tag: not pinned
        ["--image", f"registry.example.com/shop/api@sha256:{'ab' * 32}", "--insecure-registry"],
        ["--insecure-registry"],  # without --image
        ["--image", f"127.0.0.1:1/shop/api@sha256:{'ab' * 32}", "--migrations", "."],
    ],
)
def test_bad_image_options_are_usage_errors(
    database_url: str, capsys: pytest.CaptureFixture[str], arguments: list[str]
) -> None:
    # WHEN the rehearsal is given image options it cannot use
    code = main(["rehearse", "--database-url", database_url, *arguments])
    # THEN it says why, exits 2, no traceback, nothing run
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.err.startswith("pushgate rehearse: ")
    assert "Traceback" not in captured.err
    assert revision(database_url) is None
