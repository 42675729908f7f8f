"""Promotion from a lower environment (issue 12), through the real definition offline.

`RequirePromotionFrom` names the environment whose pushgate must have recorded a successful
deploy of the same digest in the deploy ledger; each stack writes that record on success. Each
test rehearses samconfig.toml's own environments (prod <- beta <- qa, dev without a check) on a
real PostgreSQL, and checks what an operator would: the states entered, the event, the service,
the schema, the lock and the ledger's records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from pushgate_cli.main import main
from pushgate_cli.rehearse import (
    REGION,
    RehearsalConfig,
    RehearsalEnvironment,
    RunResult,
    rehearse,
)

from tests.helpers import CHAIN, HEAD

pytestmark = pytest.mark.statemachine

LOOKUP = "Look the digest up in the deploy ledger"
LEDGER_WRITE = "Note the deploy in the ledger"

Rehearse = Callable[..., Any]


@pytest.fixture
def rehearsal(database_url: str) -> Rehearse:
    """`with rehearsal(config_env, **options) as env`: that environment's parameters, on this
    test's database, one revision below head."""

    @contextmanager
    def open_environment(config_env: str, **options: Any) -> Iterator[RehearsalEnvironment]:
        options.setdefault("database_url", database_url)
        options.setdefault("start_revision", "previous")
        with RehearsalEnvironment(RehearsalConfig(config_env=config_env, **options)) as env:
            yield env

    return open_environment


def ledger(env: RehearsalEnvironment) -> dict[tuple[str, str], dict[str, str]]:
    """The ledger's records by (environment, digest), attributes as plain strings."""
    return {
        (item["environment"]["S"], item["digest"]["S"]): {k: v["S"] for k, v in item.items()}
        for item in env.ledger_items()
    }


def only_detail(result: RunResult) -> dict[str, Any]:
    assert len(result.events) == 1, [e["DetailType"] for e in result.events]
    detail: dict[str, Any] = result.events[0]["Detail"]
    return detail


def lock_items(env: RehearsalEnvironment) -> list[dict[str, Any]]:
    table = env.resolver.ref("LockTable")
    return list(boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"])


def test_prod_rejects_a_digest_beta_never_deployed_and_touches_nothing(
    rehearsal: Rehearse,
) -> None:
    # GIVEN prod's stack (RequirePromotionFrom=beta) and a deploy ledger with no beta record
    with rehearsal("prod") as env:
        push = env.push_event("v1.4.0")
        digest = push["detail"]["image-digest"]

        # WHEN the push's event starts a run
        result = env.execute(push)

        # THEN it is rejected, naming the environment and the digest, before the lock
        assert result.status == "rejected"
        assert result.execution.error == "DeploymentRejected"
        detail = only_detail(result)
        assert detail["error"] == "DeploymentRejected"
        assert "beta" in detail["cause"]
        assert digest in detail["cause"]
        assert result.alerts == ["Deployment Rejected"]
        assert LOOKUP in result.path
        assert "Take the deployment lock" not in result.path
        # AND nothing was touched: schema, service, lock, ledger
        assert result.revision_after == result.revision_before == CHAIN[-2]
        assert result.service == result.service_before
        assert lock_items(env) == []
        assert ledger(env) == {}


def test_prod_deploys_a_digest_after_a_rehearsed_beta_deploy_of_it(
    rehearsal: Rehearse, tmp_path: Path
) -> None:
    kept = tmp_path / "ledger.json"
    # GIVEN a rehearsed beta deploy of a digest (qa's own check lifted), its ledger kept
    with rehearsal("beta", ledger_file=kept, parameters={"RequirePromotionFrom": ""}) as beta:
        push = beta.push_event("v1.4.0")
        digest = push["detail"]["image-digest"]
        beta_run = beta.execute(push)
        assert beta_run.status == "succeeded"
    # WHEN prod's stack, reading the same ledger, gets the same push
    with rehearsal("prod", ledger_file=kept) as prod:
        prod.adopt(push)
        result = prod.execute(push)

        # THEN it deploys the digest, and its event names the beta deploy that let it through
        assert result.status == "succeeded"
        assert result.service.image.endswith(f"@{digest}")
        assert (result.revision_before, result.revision_after) == (CHAIN[-2], HEAD)
        promoted = only_detail(result)["promoted"]
        assert promoted["environment"] == "beta"
        assert promoted["execution"] == beta_run.execution.execution_arn
        assert promoted["revision"] == HEAD
        # AND the ledger now holds both environments' records of the digest
        records = ledger(prod)
        assert set(records) == {("beta", digest), ("prod", digest)}
        assert records[("prod", digest)]["execution"] == result.execution.execution_arn
        assert records[("prod", digest)]["repository"] == "shop/api"
    # AND the kept file holds them too, for the next rehearsal
    assert {item["environment"]["S"] for item in json.loads(kept.read_text())} == {"beta", "prod"}


def test_an_empty_requirement_deploys_without_a_check_and_records_the_deploy(
    rehearsal: Rehearse,
) -> None:
    # GIVEN dev's stack: RequirePromotionFrom is empty
    with rehearsal("dev") as env:
        push = env.push_event("release-2")
        digest = push["detail"]["image-digest"]

        # WHEN a push runs
        result = env.execute(push)

        # THEN the ledger is never read, the push deploys, and dev's record is written
        assert result.status == "succeeded"
        assert LOOKUP not in result.path
        assert "promoted" not in only_detail(result)
        record = ledger(env)[("dev", digest)]
        assert record["revision"] == HEAD
        assert record["execution"] == result.execution.execution_arn
        assert record["task_definition"] == result.service.task_definition


def test_a_failed_ledger_write_leaves_the_healthy_deploy_serving_and_says_so(
    rehearsal: Rehearse,
) -> None:
    # GIVEN dev's stack whose deploy ledger is gone (deleted, or not reachable)
    with rehearsal("dev") as env:
        boto3.client("dynamodb", region_name=REGION).delete_table(TableName=env.ledger_table)
        push = env.push_event("release-2")

        # WHEN a healthy push runs
        result = env.execute(push)

        # THEN it still succeeds and serves the digest: no rollback for the bookkeeping
        assert result.status == "succeeded"
        assert LEDGER_WRITE in result.path
        assert "Scale service to zero" not in result.path
        assert result.service.image.endswith(f"@{push['detail']['image-digest']}")
        # AND its event says the record is missing and what that means for promotion
        failed = only_detail(result)["ledger_error"]
        assert failed["error"] == "DynamoDB.ResourceNotFoundException"
        assert "rejects this digest" in failed["consequence"]


@pytest.mark.parametrize(
    "content",
    ["not json", '{"environment": "beta"}', '[{"environment": {"S": "beta"}}]'],
    ids=["not-json", "not-a-list", "no-digest"],
)
def test_rehearse_refuses_a_ledger_file_that_is_not_a_ledger(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a --ledger file that is not what a rehearsal writes
    kept = tmp_path / "ledger.json"
    kept.write_text(content)
    # WHEN prod is rehearsed with it
    code = main(["rehearse", "--config-env", "prod", "--ledger", str(kept)])
    # THEN it is a usage error that names the file, without a traceback; the file is unchanged
    err = capsys.readouterr().err
    assert code == 2
    assert str(kept) in err
    assert "Traceback" not in err
    assert kept.read_text() == content


def test_a_ledger_that_cannot_be_written_after_the_run_keeps_the_runs_result(
    database_url: str, tmp_path: Path
) -> None:
    # GIVEN a --ledger file whose directory is gone by the time the run ends (the CLI checks it
    # before the run; here it is handed to rehearse() as it is)
    kept = tmp_path / "gone" / "ledger.json"
    config = RehearsalConfig(
        config_env="dev", database_url=database_url, start_revision="previous", ledger_file=kept
    )

    # WHEN dev is rehearsed with it
    result = rehearse(config)

    # THEN the run's result is kept, as the run ended, and it says the ledger was not written
    assert result.status == "succeeded"
    assert (result.revision_before, result.revision_after) == (CHAIN[-2], HEAD)
    assert result.ledger_error is not None
    assert result.ledger_error.startswith(f"cannot write --ledger {kept}: ")
    assert result.to_json()["ledger_error"] == result.ledger_error
    assert not kept.exists()
