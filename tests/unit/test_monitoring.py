"""The dashboard and the alarms read only metrics this stack really emits, and alert the topic.

"Emits" is read from the code: every `metrics.add_metric(name=...)` of the shipped handlers
(literal names, conditional names, and names taken from `pushgate.serving`), with the
dimensions that handler adds beside Powertools' `service`. AWS/States metrics are Step Functions'
own execution metrics of this stack's state machine.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from pushgate.errors import InvalidRequest
from pushgate.serving import Outcome, ServingRecord
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.template import Resolver, load_template

from tests.helpers import load_event

pytestmark = pytest.mark.unit

TEMPLATE = load_template(REPO_ROOT / "template.yaml")
RESOURCES = TEMPLATE["Resources"]
MACHINE_ARN = "arn:aws:states:eu-west-1:111122223333:stateMachine:pushgate-rehearsal-deploy"
NAMESPACE = "Pushgate/pushgate-rehearsal"  # Pushgate/${AWS::StackName} for the resolver's stack
# Step Functions' execution metrics (dimension StateMachineArn), as AWS documents them
STATES_METRICS = {
    "ExecutionTime",
    "ExecutionThrottled",
    "ExecutionsAborted",
    "ExecutionsFailed",
    "ExecutionsStarted",
    "ExecutionsSucceeded",
    "ExecutionsTimedOut",
    "ExecutionsRedriven",
}


def _names(node: ast.expr, imported: Mapping[str, Any]) -> set[str]:
    """Every value a metric-name expression can take."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _names(node.body, imported) | _names(node.orelse, imported)
    if isinstance(node, ast.Name) and isinstance(imported.get(node.id), str):
        return {imported[node.id]}
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        mapping = imported.get(node.value.id)
        if isinstance(mapping, Mapping):
            return {str(v) for v in mapping.values()}
    raise AssertionError(f"cannot tell which metric name {ast.unparse(node)} is")


def emitted() -> dict[str, set[frozenset[str]]]:
    """metric name -> the dimension sets it is emitted with, read from the handlers."""
    found: dict[str, set[frozenset[str]]] = {}
    for app in sorted((REPO_ROOT / "functions").glob("*/app.py")):
        tree = ast.parse(app.read_text())
        imported: dict[str, Any] = {}
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("pushgate")
            ):
                module = importlib.import_module(node.module)
                imported.update(
                    {a.asname or a.name: getattr(module, a.name, None) for a in node.names}
                )
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
        ]
        dimensions = {"service"} | {
            str(k.value.value)
            for c in calls
            if c.func.attr == "add_dimension"  # type: ignore[attr-defined]
            for k in c.keywords
            if k.arg == "name" and isinstance(k.value, ast.Constant)
        }
        for call in calls:
            if call.func.attr != "add_metric":  # type: ignore[attr-defined]
                continue
            (name,) = [k.value for k in call.keywords if k.arg == "name"]
            for metric in _names(name, imported):
                found.setdefault(metric, set()).add(frozenset(dimensions))
    return found


def _resolver() -> Resolver:
    parameters = {
        "EnvironmentName": "prod",
        "ClusterName": "shop-prod",
        "ServiceName": "shop-api",
        "ContainerName": "api",
        "TaskExecutionRoleArn": "arn:aws:iam::111122223333:role/x",
        "RepositoryName": "shop/api",
        "DatabaseSecretArn": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:x",
        "SubnetIds": "subnet-1",
        "SecurityGroupId": "sg-1",
    }
    return Resolver(
        TEMPLATE, parameters, refs={"DeployStateMachine": MACHINE_ARN, "AlertTopic": "topic"}
    )


def dashboard_metrics() -> Iterator[tuple[str, str, dict[str, str]]]:
    body = json.loads(
        _resolver().resolve(RESOURCES["DeployDashboard"]["Properties"]["DashboardBody"])
    )
    for widget in body["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            fields = [item for item in row if not isinstance(item, dict)]
            if not fields:
                continue  # a math expression over the rows above
            namespace, name, *pairs = fields
            yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=True))


def alarm_metrics() -> Iterator[tuple[str, str, str, dict[str, str]]]:
    resolver = _resolver()
    for logical_id, spec in RESOURCES.items():
        if spec["Type"] != "AWS::CloudWatch::Alarm" or logical_id not in MONITORING_ALARMS:
            continue
        properties = resolver.resolve(spec["Properties"])
        metrics = [
            m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m
        ]
        if "MetricName" in properties:
            metrics.append(properties)
        for metric in metrics:
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            yield logical_id, metric["Namespace"], metric["MetricName"], dims


MONITORING_ALARMS = (
    "RollbackFailedAlarm",
    "ConsecutiveFailuresAlarm",
    "SlowMigrationAlarm",
    "ExecutionsTimedOutOrAbortedAlarm",
)


def _check(
    namespace: str, name: str, dims: dict[str, str], code: dict[str, set[frozenset[str]]]
) -> None:
    if namespace == "AWS/States":
        assert name in STATES_METRICS
        assert dims == {"StateMachineArn": MACHINE_ARN}
        return
    assert namespace == NAMESPACE
    assert name in code, f"{name} is read but no handler emits it"
    assert frozenset(dims) in code[name], f"{name} is emitted with {code[name]}, read with {dims}"
    assert dims["service"] == "pushgate"
    if "environment" in dims:
        assert dims["environment"] == "prod"


def test_every_dashboard_widget_reads_a_metric_the_code_emits() -> None:
    code = emitted()
    read = list(dashboard_metrics())
    assert {name for _, name, _ in read} >= {
        "DeploymentsSucceeded",
        "DeploymentsRolledBack",
        "DeploymentsFailed",
        "DeploymentsRejected",
        "PushToHealthySeconds",
        "MigrationDurationMs",
        "RevisionsApplied",
        "RollbackFailures",
        "ExecutionsStarted",
    }
    for namespace, name, dims in read:
        _check(namespace, name, dims, code)


def test_every_alarm_reads_a_metric_the_code_emits_and_alerts_the_topic() -> None:
    code = emitted()
    seen = set()
    for logical_id, namespace, name, dims in alarm_metrics():
        _check(namespace, name, dims, code)
        seen.add(logical_id)
        assert RESOURCES[logical_id]["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert seen == set(MONITORING_ALARMS)
    thresholds = {k: RESOURCES[k]["Properties"]["Threshold"] for k in MONITORING_ALARMS}
    assert thresholds["ConsecutiveFailuresAlarm"] == {"Ref": "FailureAlarmThreshold"}
    assert thresholds["SlowMigrationAlarm"] == {"Ref": "MigrationDurationAlarmSeconds"}
    assert thresholds["RollbackFailedAlarm"] == 1
    assert RESOURCES["RollbackFailedAlarm"]["Properties"]["Period"] == 60


def test_the_functions_namespace_is_the_stacks_own() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert _resolver().resolve(variables["POWERTOOLS_METRICS_NAMESPACE"]) == NAMESPACE


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"source": "aws.ecr"}, "is not pushgate"),
        ({"detail-type": "Deployment Started"}, "is not one of"),
        ({"detail": "succeeded"}, "no detail object"),
        ({"time": "yesterday"}, "not an ISO 8601 time"),
        ({"time": "2026-12-01T09:00:00"}, "no time zone"),
    ],
)
def test_an_event_that_is_not_an_announcement_is_refused(change: dict[str, Any], why: str) -> None:
    event = {**load_event("pushgate_deployment_succeeded"), **change}
    with pytest.raises(InvalidRequest, match=why):
        Outcome.from_event(event)


def test_the_sample_announcement_reads_as_a_success() -> None:
    outcome = Outcome.from_event(load_event("pushgate_deployment_succeeded"))
    assert outcome.outcome == "succeeded"
    assert outcome.environment == "prod"
    assert outcome.to_revision == "c47a91e2b5d8"


def test_the_serving_record_settings_are_required() -> None:
    with pytest.raises(InvalidRequest, match="SERVING_RECORD_ID"):
        ServingRecord.from_environment(object(), {"LOCK_TABLE_NAME": "locks"})
