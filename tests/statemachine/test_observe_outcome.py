"""observe_outcome, fed the announcements the real definition puts, as OutcomeRule delivers them.

A rehearsal runs pushes through the real definition; each pushgate event it put is wrapped the
way EventBridge delivers it and handed to the shipped handler, with the environment the template
gives ObserveOutcomeFunction. What an operator checks: the serving record (revision, failures in
a row) and the metrics the handler printed (EMF, as CloudWatch reads them from the log).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from pushgate_cli.handlers import load_handler
from pushgate_cli.lambda_context import LambdaContext
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment
from pushgate_cli.scenarios import Rollout
from pushgate_cli.template import function_environment

pytestmark = pytest.mark.statemachine

FUNCTION = "ObserveOutcomeFunction"


@pytest.fixture
def env(database_url: str) -> Iterator[RehearsalEnvironment]:
    with RehearsalEnvironment(RehearsalConfig(database_url=database_url)) as rehearsal:
        yield rehearsal


def _deliver(
    env: RehearsalEnvironment,
    capsys: pytest.CaptureFixture[str],
    execution_input: Any,
) -> list[dict[str, Any]]:
    """Run one push; deliver its announcement to the handler; the EMF documents it printed."""
    result = env.execute(execution_input)
    # its own template environment only, as Lambda gives it (no other function's variable)
    own = function_environment(env.template, env.resolver, FUNCTION)
    env.function_environments.update({FUNCTION: own})
    with env.function_environments.applied(FUNCTION):
        handler = load_handler("observe_outcome", env.root, fresh=True)
    capsys.readouterr()
    for entry in result.events:
        with env.function_environments.applied(FUNCTION):
            handler.lambda_handler(
                {
                    "version": "0",
                    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
                    "source": entry["Source"],
                    "detail-type": entry["DetailType"],
                    "account": "123456789012",
                    "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "region": REGION,
                    "resources": [],
                    "detail": entry["Detail"],
                },
                LambdaContext.invocation("observe-outcome", timeout_s=30, memory_mb=256),
            )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    return [line for line in lines if "_aws" in line]


def _record(env: RehearsalEnvironment) -> dict[str, Any]:
    p = env.resolver.ref
    item: dict[str, Any] = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=env.resolver.refs["LockTable"],
        Key={"lock_id": {"S": f"{p('ClusterName')}/{p('ServiceName')}#serving"}},
    )["Item"]
    return item


def _metrics(documents: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for doc in documents:
        for spec in doc["_aws"]["CloudWatchMetrics"]:
            assert spec["Namespace"] == "Pushgate/pushgate-rehearsal"
            for metric in spec["Metrics"]:
                found[metric["Name"]] = (doc[metric["Name"]], sorted(spec["Dimensions"][0]))
                assert doc["environment"] == "dev"
    return found


def test_a_success_records_its_revision_and_how_long_the_push_took_to_serve(
    env: RehearsalEnvironment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a push made 90 seconds before its run ends healthy
    pushed = env.push_event("release-2", when=datetime.now(UTC) - timedelta(seconds=90))

    # WHEN its announcement reaches observe_outcome
    documents = _deliver(env, capsys, pushed)

    # THEN the serving record names the revision the schema reached, no failures in a row
    record = _record(env)
    assert record["revision"]["S"] == env.revision()
    assert record["consecutive_failures"]["N"] == "0"
    assert record["digest"]["S"] == pushed["detail"]["image-digest"]
    # and the metrics say: one success, 0 failures in a row, about 90 s from push to healthy
    metrics = _metrics(documents)
    assert metrics["DeploymentsSucceeded"] == ([1.0], ["environment", "service"])
    assert metrics["ConsecutiveFailures"][0] == [0.0]
    (seconds,) = metrics["PushToHealthySeconds"][0]
    assert 89 <= seconds <= 100


def test_failures_in_a_row_count_up_and_a_success_resets_them(
    env: RehearsalEnvironment,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a healthy deploy, then two pushes whose tasks fail to start
    _deliver(env, capsys, env.push_event("release-2"))
    env.simulator.new_images = Rollout.FAILING
    counts = []
    for tag in ("release-3", "release-4"):
        documents = _deliver(env, capsys, env.push_event(tag))
        counts.append(_metrics(documents)["ConsecutiveFailures"][0])
        # THEN each rolled-back run adds one, in the record and the metric
        assert _metrics(documents)["DeploymentsRolledBack"][0] == [1.0]
    assert counts == [[1.0], [2.0]]
    assert _record(env)["consecutive_failures"]["N"] == "2"

    # WHEN a push that is not in the repository is rejected THEN the count stays
    rejected = {"repository": "shop/api", "digest": "sha256:" + "0" * 64}
    documents = _deliver(env, capsys, rejected)
    assert "ConsecutiveFailures" not in _metrics(documents)
    assert _metrics(documents)["DeploymentsRejected"][0] == [1.0]
    assert _record(env)["consecutive_failures"]["N"] == "2"

    # WHEN the next push deploys THEN the count is back at zero
    env.simulator.new_images = Rollout.HEALTHY
    documents = _deliver(env, capsys, env.push_event("release-5"))
    assert _metrics(documents)["ConsecutiveFailures"][0] == [0.0]
    assert _record(env)["consecutive_failures"]["N"] == "0"
