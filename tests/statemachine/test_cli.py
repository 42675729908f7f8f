"""`pushgate rehearse` as a user runs it: exit codes, the --json contract, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pushgate_cli.main import EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, main

from tests.helpers import CHAIN, HEAD, MIGRATIONS, revision

pytestmark = pytest.mark.statemachine


def test_json_output_holds_the_documented_contract(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a database moved one revision behind head (--start-revision previous)
    # WHEN the unhealthy scenario is rehearsed with --json
    code = main(
        [
            "rehearse",
            *("--scenario", "unhealthy", "--database-url", database_url, "--json"),
            *("--start-revision", "previous", "--migrations", str(MIGRATIONS)),
        ]
    )

    # THEN it exits 0 (it ended as expected) and stdout is the JSON contract of design.md
    assert code == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "rolled_back"
    assert out["revision_before"] == out["revision_after"] == CHAIN[-2]
    assert {"Run migrations", "Scale service to zero", "Downgrade schema"} <= set(out["path"])
    assert out["service"]["desired_count"] == 2
    assert out["service"]["task_definition"].endswith(":1")
    assert [e["DetailType"] for e in out["events"]] == ["Deployment Rolled Back"]
    assert revision(database_url) == CHAIN[-2]


def test_a_run_that_does_not_end_as_the_scenario_expects_exits_non_zero(
    database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a replay input for another service's repository
    event = tmp_path / "replay.json"
    event.write_text(json.dumps({"repository": "billing/api", "tag": "release-1"}))

    # WHEN it is rehearsed as a healthy deploy, from one below head
    start = ["--start-revision", "previous"]
    code = main(["rehearse", "--database-url", database_url, "--event", str(event), *start])

    # THEN the run was rejected, which is not what "healthy" expects: exit 1, schema untouched
    assert code == EXIT_UNEXPECTED
    assert "status    rejected" in capsys.readouterr().out
    assert revision(database_url) == CHAIN[-2]

    # WHEN the same run is told a rejection is what to expect THEN it exits 0
    arguments = ["--database-url", database_url, "--event", str(event), "--expect", "rejected"]
    assert main(["rehearse", *arguments]) == EXIT_OK


@pytest.mark.parametrize(
    "arguments",
    [
        ["--event", "no-such-file.json"],
        ["--migrations", "."],  # not an alembic script directory
        ["--start-revision", "no-such-revision"],
        ["--migrations", "no-such-directory"],
        ["--config-env", "no-such-environment"],
        ["--migrations", "{unimportable}"],
    ],
)
def test_bad_input_is_a_usage_error_that_changes_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str], arguments: list[str], tmp_path: Path
) -> None:
    # GIVEN a database at head, and scripts whose new revision imports the service's own code
    unimportable = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, unimportable)
    (unimportable / "versions" / "d0000000000d_test.py").write_text(
        f"import myservice.models\nrevision = 'd0000000000d'\ndown_revision = {HEAD!r}\n"
    )
    arguments = [a.format(unimportable=unimportable) for a in arguments]
    bundled = ["--migrations-source", "bundled"]  # migrations/, as the function bundles it
    assert (
        main(["rehearse", "--database-url", database_url, "--start-revision", "head", *bundled])
        == 0
    )
    capsys.readouterr()

    # WHEN the rehearsal is given bad input
    code = main(["rehearse", "--database-url", database_url, *bundled, *arguments])

    # THEN it says why on stderr, exits 2, and the database is where it was
    assert code == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.startswith("pushgate rehearse: ")
    assert captured.out == ""
    assert revision(database_url) == HEAD
