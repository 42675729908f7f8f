"""template.yaml and the definition: the snapshot's permissions and bounds (issue 12)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.template import load_template, resource, samconfig_parameters

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
STATES = json.loads((ROOT / "statemachine" / "deploy.asl.json").read_text())["States"]
RDS = "arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}"


def statements(logical_id: str) -> dict[str, dict[str, Any]]:
    """The function's or state machine's policy statements by Sid, conditions unwrapped."""
    found: dict[str, dict[str, Any]] = {}
    for policy in resource(TEMPLATE, logical_id)["Properties"]["Policies"]:
        if "Fn::If" in policy:
            policy = policy["Fn::If"][1]
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            found[statement["Sid"]] = statement
    return found


def subs(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [v["Fn::Sub"] for v in values]


def test_the_state_machine_snapshots_only_the_one_database_under_pushgates_prefix() -> None:
    granted = statements("DeployStateMachine")
    instance, cluster = granted["SnapshotTheOneInstance"], granted["SnapshotTheOneCluster"]
    assert instance["Action"] == "rds:CreateDBSnapshot"
    assert subs(instance["Resource"]) == [
        f"{RDS}:db:${{DatabaseInstanceId}}",
        f"{RDS}:snapshot:pushgate-*",
    ]
    assert subs(cluster["Resource"]) == [
        f"{RDS}:cluster:${{DatabaseClusterId}}",
        f"{RDS}:cluster-snapshot:pushgate-*",
    ]
    tagging = granted["TagThePushgateSnapshotItTakes"]
    assert all(
        ":snapshot:pushgate-*" in r or ":cluster-snapshot:pushgate-*" in r
        for r in subs(tagging["Resource"])
    )


def test_the_prune_deletes_only_snapshots_under_the_prefix_carrying_this_stacks_marker() -> None:
    granted = statements("PruneSnapshotsFunction")
    for sid, key in [
        ("DeleteOnlyThisStacksInstanceSnapshots", "rds:snapshot-tag/pushgate:snapshot"),
        ("DeleteOnlyThisStacksClusterSnapshots", "rds:cluster-snapshot-tag/pushgate:snapshot"),
    ]:
        statement = granted[sid]
        assert subs(statement["Resource"])[0].endswith("snapshot:pushgate-*")
        marker = statement["Condition"]["StringEquals"][key]
        assert marker == {"Fn::Sub": "${ClusterName}/${ServiceName}"}
    environment = resource(TEMPLATE, "PruneSnapshotsFunction")["Properties"]["Environment"]
    assert environment["Variables"]["SNAPSHOT_MARKER"] == marker


def test_the_wait_asks_every_poll_and_its_retries_outlast_the_longest_deadline() -> None:
    state = STATES["Wait until the snapshot is available"]
    (not_ready,) = [r for r in state["Retry"] if r["ErrorEquals"] == ["SnapshotNotReady"]]
    payload = state["Parameters"]["Payload"]
    # the function counts polls of poll_seconds: the Retry's own interval, without backoff
    assert (not_ready["IntervalSeconds"], not_ready["BackoffRate"]) == (payload["poll_seconds"], 1)
    assert payload["polls.$"] == "$$.State.RetryCount"
    longest = TEMPLATE["Parameters"]["SnapshotDeadlineSeconds"]["MaxValue"]
    assert not_ready["IntervalSeconds"] * not_ready["MaxAttempts"] > longest
    # and any failure of the snapshot ends the run before Run migrations, the locks released
    for name in [
        "Snapshot the database instance",
        "Snapshot the database cluster",
        "Wait until the snapshot is available",
    ]:
        assert STATES[name]["Catch"] == [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.error",
                "Next": "Release the database lock",
            }
        ]


@pytest.mark.parametrize("environment", ["dev", "qa", "beta", "prod"])
def test_an_environment_that_takes_snapshots_names_exactly_one_database(environment: str) -> None:
    parameters = samconfig_parameters(ROOT / "samconfig.toml", environment)
    if parameters["DatabaseSnapshot"] != "never":
        named = [
            parameters[k] for k in ("DatabaseInstanceId", "DatabaseClusterId") if parameters[k]
        ]
        assert len(named) == 1
    # the template refuses the other case itself (a Rule, checked by CloudFormation)
    assert "SnapshotNamesOneDatabase" in TEMPLATE["Rules"]
