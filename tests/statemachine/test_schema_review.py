"""The schema review in the deploy path: the real definition offline, real PostgreSQL, real
squawk, each verdict and the acceptance under each SchemaPolicy (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from pushgate_cli import rehearse as rehearse_module
from pushgate_cli.main import EXIT_OK, EXIT_USAGE, main
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment, RunResult

from tests.review_projects import (
    ADD_EMAIL,
    CREATE_USERS,
    DROP_NICKNAME,
    PLAIN_INDEX,
    READS_THE_DATABASE,
    write_revision,
)

pytestmark = pytest.mark.statemachine


def project(tmp_path: Path, second: str, extra: str = "") -> Path:
    """users (r1), then the pushed revision (r2); the rehearsal starts at r1 (previous)."""
    versions = tmp_path / "project" / "versions"
    write_revision(versions, "r1", None, CREATE_USERS, '    op.drop_table("users")\n')
    write_revision(versions, "r2", "r1", second, extra=extra)
    return versions.parent


@contextmanager
def deployed(database_url: str, migrations: Path, policy: str) -> Iterator[tuple[RunResult, Any]]:
    """One healthy push of ``migrations`` under ``policy``; the result and the lock items left."""
    config = RehearsalConfig(
        database_url=database_url,
        migrations_dir=migrations,
        start_revision="previous",
        parameters={"SchemaPolicy": policy},
    )
    with RehearsalEnvironment(config) as env:
        result = env.execute(env.push_event("release-2"))
        table = env.resolver.ref("LockTable")
        items = boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]
        yield result, [item for item in items if "#" not in item["lock_id"]["S"]]


def event_of(result: RunResult) -> dict[str, Any]:
    (event,) = result.events
    detail: dict[str, Any] = event["Detail"]
    return {"detail_type": event["DetailType"], **detail}


def test_a_safe_push_goes_through_with_its_review_in_the_event(
    database_url: str, tmp_path: Path
) -> None:
    """GIVEN a revision adding a nullable column, SchemaPolicy enforce WHEN pushed THEN it is
    reviewed before it runs, migrated and served; the event says safe."""
    with deployed(database_url, project(tmp_path, ADD_EMAIL), "enforce") as (result, locks):
        event = event_of(result)

    path = result.path
    assert path.index("Check database") < path.index("Review the schema change")
    assert path.index("Review the schema change") < path.index("Run migrations")
    assert (result.status, result.revision_after, locks) == ("succeeded", "r2", [])
    assert event["review"]["verdict"] == "safe"
    assert event["review"]["counts"] == {"safe": 1, "blocks-serving": 0, "breaks-serving": 0}


def test_a_dropped_column_under_enforce_is_rejected_with_nothing_migrated(
    database_url: str, tmp_path: Path
) -> None:
    """GIVEN a revision dropping a column the old version reads, SchemaPolicy enforce WHEN
    pushed THEN Deployment Rejected naming revision, statement, rule and the way out; the
    database stays at r1, the service untouched, the lock released."""
    with deployed(database_url, project(tmp_path, DROP_NICKNAME), "enforce") as (result, locks):
        event = event_of(result)

    assert (result.status, result.revision_before, result.revision_after) == (
        "rejected",
        "r1",
        "r1",
    )
    assert result.service == result.service_before
    assert "Run migrations" not in result.path
    assert "Release the deployment lock" in result.path
    assert locks == []
    assert (event["detail_type"], event["error"]) == ("Deployment Rejected", "DeploymentRejected")
    for words in ("r2", "ALTER TABLE users DROP COLUMN nickname;", "ban-drop-column", "two pushes"):
        assert words in event["cause"]


def test_the_same_push_under_warn_goes_through_with_the_findings_in_the_event(
    database_url: str, tmp_path: Path
) -> None:
    with deployed(database_url, project(tmp_path, DROP_NICKNAME), "warn") as (result, _):
        event = event_of(result)

    assert (result.status, result.revision_after) == ("succeeded", "r2")
    review = event["review"]
    assert (review["policy"], review["verdict"], review["destructive"]) == (
        "warn",
        "breaks-serving",
        True,
    )
    assert review["findings"][0]["rule"] == "ban-drop-column"
    assert review["findings"][0]["statement"] == "ALTER TABLE users DROP COLUMN nickname;"


def test_pushgate_accept_lets_the_contract_step_through_and_the_event_says_why(
    database_url: str, tmp_path: Path
) -> None:
    accept = 'pushgate_accept = {"ban-drop-column": "contract: 2.3 no longer reads nickname"}'
    migrations = project(tmp_path, DROP_NICKNAME, accept)

    with deployed(database_url, migrations, "enforce") as (result, _):
        event = event_of(result)

    assert (result.status, result.revision_after) == ("succeeded", "r2")
    review = event["review"]
    assert (review["verdict"], review["accepted"], review["destructive"]) == ("safe", 1, True)
    first = review["findings"][0]
    assert (first["rule"], first["accepted"]) == (
        "ban-drop-column",
        "contract: 2.3 no longer reads nickname",
    )


def test_a_non_concurrent_index_is_blocks_serving_and_goes_through(
    database_url: str, tmp_path: Path
) -> None:
    migrations = project(tmp_path, ADD_EMAIL + PLAIN_INDEX)

    with deployed(database_url, migrations, "enforce") as (result, _):
        event = event_of(result)

    assert (result.status, result.revision_after) == ("succeeded", "r2")
    assert event["review"]["verdict"] == "blocks-serving"
    assert event["review"]["findings"][0]["rule"] == "require-concurrent-index-creation"


def test_a_revision_that_cannot_be_rendered_is_rejected_under_enforce_naming_it(
    database_url: str, tmp_path: Path
) -> None:
    migrations = project(tmp_path, READS_THE_DATABASE)

    with deployed(database_url, migrations, "enforce") as (result, locks):
        event = event_of(result)

    assert (result.status, result.revision_after, locks) == ("rejected", "r1", [])
    assert "revision r2" in event["cause"]
    assert "unrenderable" in event["cause"]


def test_squawk_missing_fails_the_run_loudly_with_nothing_migrated(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN review_schema without its squawk (the layer not attached) WHEN a push is reviewed
    THEN Deployment Failed with SchemaReviewFailed; nothing migrated, the lock released."""
    monkeypatch.setattr(rehearse_module, "LOCAL_SQUAWK", tmp_path / "no-squawk-here")

    with deployed(database_url, project(tmp_path, ADD_EMAIL), "warn") as (result, locks):
        event = event_of(result)

    assert (result.status, result.revision_after, locks) == ("failed", "r1", [])
    assert (event["detail_type"], event["error"]) == ("Deployment Failed", "SchemaReviewFailed")
    assert "squawk is not at" in event["cause"]


def test_each_policy_is_rehearsed_with_parameter_overrides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a dropping revision and dev's warn WHEN rehearsed with --parameter-overrides
    SchemaPolicy=enforce THEN --json's review is the rejection (and the HTML report shows it);
    with warn, the verdicts."""
    migrations = str(project(tmp_path, DROP_NICKNAME))
    html = tmp_path / "report.html"

    enforce = ["--parameter-overrides", "SchemaPolicy=enforce", "--expect", "rejected"]
    code = main(["rehearse", "--migrations", migrations, *enforce, "--json", "--html", str(html)])
    rejected = json.loads(capsys.readouterr().out)
    assert (code, rejected["status"]) == (EXIT_OK, "rejected")
    assert rejected["review"]["error"] == "SchemaChangeRejected"
    assert "ban-drop-column" in rejected["review"]["cause"]
    assert "SchemaChangeRejected" in html.read_text()

    assert main(["rehearse", "--migrations", migrations, "--json"]) == EXIT_OK
    warned = json.loads(capsys.readouterr().out)["review"]
    assert (warned["policy"], warned["verdict"], warned["squawk"]) == (
        "warn",
        "breaks-serving",
        "2.68.0",
    )
    assert warned["revisions"][0]["findings"][0]["rule"] == "ban-drop-column"


def test_a_parameter_the_template_does_not_have_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for override in ("SchemaPolicy=strict", "NoSuchParameter=1", "novalue"):
        assert main(["rehearse", "--parameter-overrides", override]) == EXIT_USAGE
        assert "--parameter-overrides" in capsys.readouterr().err
