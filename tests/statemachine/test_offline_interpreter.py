"""The offline interpreter behaves like Step Functions where moto 5.2.5 does not: one section per
gap (the modules of pushgate_cli.offline.gaps, numbered as in pushgate_cli.offline's docstring).

Each test runs a small ASL definition and checks what a person would check in the console:
status, output, the states entered, waits, errors, events. For every gap, one test shows the
AWS behaviour with the patch, and one runs moto with only that gap left open
(``moto_without``) and shows that moto then differs: the patch is needed, and it is what works.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from botocore.exceptions import ClientError
from moto.ecs.models import ecs_backends
from pushgate_cli.offline import OfflineStepFunctions, WaitRecord
from pushgate_cli.offline.gaps.gap10_quiet_handled_errors import EVALUATION_LOGGER
from pushgate_cli.offline.patching import UnknownGap, gap_names

pytestmark = pytest.mark.statemachine


def asl(start: str, states: dict[str, Any]) -> str:
    return json.dumps({"StartAt": start, "States": states})


@contextmanager
def moto_without(gap: str) -> Iterator[OfflineStepFunctions]:
    """The offline interpreter with every gap closed but ``gap``: what moto does there."""
    with OfflineStepFunctions(leave_open={gap}) as sfn:
        yield sfn


class DatabaseNotReady(Exception):
    """Stands in for a handler's retryable error; only its class name matters to ASL."""


class DatabaseConfigError(Exception):
    """Stands in for a handler's non-retryable error."""


def make_ecs_service(
    sfn: OfflineStepFunctions, *, cluster: str = "c1", service: str = "web"
) -> str:
    ecs = sfn.client("ecs")
    ecs.create_cluster(clusterName=cluster)
    task_definition = ecs.register_task_definition(
        family="web",
        containerDefinitions=[{"name": "app", "image": "repo:1", "memory": 256}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=cluster, serviceName=service, taskDefinition=task_definition, desiredCount=2
    )
    return str(task_definition)


# -- 1. service shapes (gap01_service_shapes) ------------------------------------------------------
# PascalCase in and out, times as strings, on_service_call hooks.


def test_aws_sdk_ecs_speaks_pascal_case_and_choice_sees_indexed_value(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN an ECS service, and a machine that describes it, branches on the first
    # deployment's rollout state and serialises the whole response (it holds datetimes)
    task_definition = make_ecs_service(offline_sfn)
    machine = offline_sfn.create_state_machine(
        "describe",
        asl(
            "Describe",
            {
                "Describe": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
                    "Parameters": {"Cluster": "c1", "Services": ["web"]},
                    "ResultPath": "$.described",
                    "Next": "Branch",
                },
                "Branch": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": "$.described.Services[0].Deployments[0].RolloutState",
                            "StringEquals": "IN_PROGRESS",
                            "Next": "Summarise",
                        }
                    ],
                    "Default": "Unexpected",
                },
                "Summarise": {
                    "Type": "Pass",
                    "Parameters": {
                        "task_definition.$": "$.described.Services[0].TaskDefinition",
                        "desired.$": "$.described.Services[0].DesiredCount",
                        "created.$": "$.described.Services[0].Deployments[0].CreatedAt",
                        "text.$": "States.JsonToString($.described)",
                    },
                    "End": True,
                },
                "Unexpected": {"Type": "Fail", "Error": "Unexpected"},
            },
        ),
    )

    # WHEN it runs
    report = offline_sfn.run(machine, {}, name="describe-1")

    # THEN the Choice saw the value (not a one-element list) and fields are PascalCase
    assert report.status == "SUCCEEDED", report.cause
    assert report.path == ["Describe", "Branch", "Summarise"]
    assert report.output["task_definition"] == task_definition
    assert report.output["desired"] == 2
    assert isinstance(report.output["created"], str)
    assert report.output["created"][:4].isdigit()
    assert json.loads(report.output["text"])["Services"][0]["ServiceName"] == "web"


def test_gap01_without_it_moto_returns_its_own_field_names_and_the_state_fails() -> None:
    # GIVEN moto with the service shapes left open, and a cluster read with an aws-sdk task
    with moto_without("gap01_service_shapes") as sfn:
        sfn.client("ecs").create_cluster(clusterName="c1")
        machine = sfn.create_state_machine(
            "describe",
            asl(
                "Describe",
                {
                    "Describe": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:ecs:describeClusters",
                        "Parameters": {"Clusters": ["c1"]},
                        "ResultSelector": {"name.$": "$.Clusters[0].ClusterName"},
                        "End": True,
                    }
                },
            ),
        )

        # WHEN it runs
        report = sfn.run(machine, {}, name="describe-1")

    # THEN the PascalCase path AWS returns finds nothing: States.Runtime
    assert report.status == "FAILED"
    assert report.error == "States.Runtime"


# -- 2. JSONPath (gap02_jsonpath) ------------------------------------------------------------------
# A definite path yields the value, an indefinite one a list.


def test_jsonpath_definite_paths_yield_values_and_indefinite_ones_lists(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a machine using indexes in InputPath, Parameters, Choice and intrinsic arguments,
    # and wildcards and filters that must stay lists
    machine = offline_sfn.create_state_machine(
        "paths",
        asl(
            "Pick",
            {
                "Pick": {
                    "Type": "Pass",
                    "InputPath": "$.items[1]",
                    "Parameters": {
                        "name.$": "$.name",
                        "first_tag.$": "$.tags[0]",
                        "greeting.$": "States.Format('hi {}', $.tags[0])",
                    },
                    "ResultPath": "$.picked",
                    "Next": "Collect",
                },
                "Collect": {
                    "Type": "Pass",
                    "Parameters": {
                        "names.$": "$.items[*].name",
                        "big.$": "$.items[?(@.size > 5)].name",
                        "none.$": "$.items[?(@.size > 500)].name",
                        "picked.$": "$.picked",
                    },
                    "Next": "Is b?",
                },
                "Is b?": {
                    "Type": "Choice",
                    "Choices": [
                        {"Variable": "$.names[1]", "StringEquals": "b", "Next": "Yes"},
                    ],
                    "Default": "No",
                },
                "Yes": {"Type": "Succeed"},
                "No": {"Type": "Fail", "Error": "WrongValue"},
            },
        ),
    )
    items = [{"name": "a", "size": 1, "tags": ["x"]}, {"name": "b", "size": 9, "tags": ["y"]}]

    # WHEN it runs
    report = offline_sfn.run(machine, {"items": items}, name="paths-1")

    # THEN
    assert report.status == "SUCCEEDED", report.cause
    assert report.output == {
        "names": ["a", "b"],
        "big": ["b"],
        "none": [],
        "picked": {"name": "b", "first_tag": "y", "greeting": "hi y"},
    }


def test_intrinsic_functions_the_deploy_machine_uses(offline_sfn: OfflineStepFunctions) -> None:
    # GIVEN substituted settings that arrive as strings, as DefinitionSubstitutions leave them
    machine = offline_sfn.create_state_machine(
        "intrinsics",
        asl(
            "Settings",
            {
                "Settings": {
                    "Type": "Pass",
                    "Parameters": {
                        "deadline.$": "States.StringToJson('600')",
                        "restore.$": "States.StringToJson('true')",
                        "next_attempt.$": "States.MathAdd($.attempt, 1)",
                        "count.$": "States.ArrayLength($.applied)",
                        "message.$": "States.Format('{} applied to {}', $.applied[0], $.repo)",
                        "detail.$": "States.JsonToString($.detail)",
                    },
                    "End": True,
                }
            },
        ),
    )

    # WHEN it runs
    report = offline_sfn.run(
        machine,
        {"attempt": 2, "applied": ["a1", "b2"], "repo": "app", "detail": {"k": [1, 2]}},
        name="intrinsics-1",
    )

    # THEN
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["deadline"] == 600
    assert report.output["restore"] is True
    assert report.output["next_attempt"] == 3
    assert report.output["count"] == 2
    assert report.output["message"] == "a1 applied to app"
    assert json.loads(report.output["detail"]) == {"k": [1, 2]}


def test_gap02_without_it_a_field_of_an_indexed_element_comes_back_as_a_list() -> None:
    # GIVEN moto with JSONPath left open, and a Pass state reading $.items[1].name
    with moto_without("gap02_jsonpath") as sfn:
        machine = sfn.create_state_machine(
            "paths",
            asl(
                "Pick",
                {
                    "Pick": {
                        "Type": "Pass",
                        "Parameters": {"name.$": "$.items[1].name"},
                        "End": True,
                    }
                },
            ),
        )

        # WHEN it runs
        report = sfn.run(machine, {"items": [{"name": "a"}, {"name": "b"}]}, name="paths-1")

    # THEN the definite path gave a one-element list where AWS gives "b"
    assert report.status == "SUCCEEDED", report.cause
    assert report.output == {"name": ["b"]}


# -- 3. Lambda in-process (gap03_lambda_in_process) ------------------------------------------------
# The handler runs here, with a context, and fails with Lambda's error shape.


def test_lambda_plain_arn_runs_in_process_with_a_context(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a handler registered as a Lambda function, called by its plain ARN
    seen: list[dict[str, Any]] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        seen.append(
            {
                "function_name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "arn": context.invoked_function_arn,
                "remaining": context.get_remaining_time_in_millis(),
                "request_id": context.aws_request_id,
            }
        )
        return {"ready": True, "echo": event["who"]}

    arn = offline_sfn.register_lambda("check_database", handler, memory_mb=512, timeout_s=30)
    machine = offline_sfn.create_state_machine(
        "plain",
        asl("Check database", {"Check database": {"Type": "Task", "Resource": arn, "End": True}}),
    )

    # WHEN it runs
    report = offline_sfn.run(machine, {"who": "me"}, name="plain-1")

    # THEN the handler's result is the output and it saw a Lambda-like context
    assert report.status == "SUCCEEDED", report.cause
    assert report.output == {"ready": True, "echo": "me"}
    assert seen[0]["function_name"] == "check_database"
    assert seen[0]["memory"] == 512
    assert seen[0]["arn"] == arn
    assert 0 < seen[0]["remaining"] <= 30_000
    assert seen[0]["request_id"]
    types = [e["type"] for e in report.history]
    assert "LambdaFunctionSucceeded" in types


def test_lambda_invoke_integration_payload_and_retry_then_catch_by_class_name(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a handler that is not ready twice, then fails with a configuration error,
    # invoked through arn:aws:states:::lambda:invoke with Retry and Catch on class names
    calls: list[Any] = []

    def handler(event: Any, context: Any) -> dict[str, Any]:
        calls.append(event)
        if len(calls) <= 2:
            raise DatabaseNotReady("the database system is starting up")
        if event["fail"]:
            raise DatabaseConfigError("password authentication failed")
        return {"ready": True}

    arn = offline_sfn.register_lambda("check_database", handler)
    machine = offline_sfn.create_state_machine(
        "invoke",
        asl(
            "Check database",
            {
                "Check database": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": {"fail.$": "$.fail"}},
                    "ResultSelector": {"ready.$": "$.Payload.ready"},
                    "Retry": [
                        {
                            "ErrorEquals": ["DatabaseNotReady"],
                            "IntervalSeconds": 3,
                            "BackoffRate": 2,
                            "MaxAttempts": 5,
                        }
                    ],
                    "Catch": [
                        {
                            "ErrorEquals": ["DatabaseConfigError"],
                            "ResultPath": "$.error",
                            "Next": "Announce failure",
                        }
                    ],
                    "End": True,
                },
                "Announce failure": {"Type": "Fail", "Error": "DeploymentFailed"},
            },
        ),
    )

    # WHEN the third attempt succeeds
    ok = offline_sfn.run(machine, {"fail": False}, name="invoke-ok")

    # THEN two back-offs (3 s, 6 s) were recorded and the Payload came through
    assert ok.status == "SUCCEEDED", ok.cause
    assert ok.output == {"ready": True}
    assert ok.waits == [
        WaitRecord("Check database", 3.0, "retry"),
        WaitRecord("Check database", 6.0, "retry"),
    ]
    assert calls[0] == {"fail": False}

    # WHEN the third attempt raises a configuration error
    calls.clear()
    failed = offline_sfn.run(machine, {"fail": True}, name="invoke-fail")

    # THEN it is caught by class name, with the Lambda error shape in the cause
    assert failed.status == "FAILED"
    assert failed.error == "DeploymentFailed"
    assert failed.path == ["Check database", "Announce failure"]
    task_failures = [
        e["taskFailedEventDetails"] for e in failed.history if e["type"] == "TaskFailed"
    ]
    assert [f["error"] for f in task_failures] == [
        "DatabaseNotReady",
        "DatabaseNotReady",
        "DatabaseConfigError",
    ]
    cause = json.loads(task_failures[-1]["cause"])
    assert cause["errorType"] == "DatabaseConfigError"
    assert cause["errorMessage"] == "password authentication failed"
    assert isinstance(cause["stackTrace"], list)


def test_gap03_without_it_moto_wants_docker_and_the_handler_never_runs() -> None:
    # GIVEN moto with in-process Lambda left open, and a registered handler
    called: list[Any] = []
    with moto_without("gap03_lambda_in_process") as sfn:
        arn = sfn.register_lambda("check_database", lambda event, context: called.append(event))
        machine = sfn.create_state_machine(
            "plain", asl("Call", {"Call": {"Type": "Task", "Resource": arn, "End": True}})
        )

        # WHEN it runs
        report = sfn.run(machine, {"who": "me"}, name="plain-1")

    # THEN the task failed (moto tried to start a container) and the handler was not called
    assert report.status == "FAILED"
    assert called == []


# -- 4. no sleeping (gap04_no_sleeping) ------------------------------------------------------------
# Wait states and Retry back-offs are recorded and take (scaled) no time.


def test_on_service_call_hook_can_progress_a_rollout_while_a_poll_loop_waits(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a poll loop (Wait -> describe -> Choice) and a hook that completes the
    # deployment on the third describe, as a rehearsal simulates rollout progress
    make_ecs_service(offline_sfn)
    describes: list[dict[str, Any]] = []

    def progress(service: str, operation: str, parameters: dict[str, Any]) -> None:
        if (service, operation) != ("ecs", "DescribeServices"):
            return
        describes.append(parameters)
        if len(describes) == 3:
            backend = ecs_backends[offline_sfn.account_id][offline_sfn.region]
            backend.services["c1:web"].deployments[0]["rolloutState"] = "COMPLETED"

    offline_sfn.on_service_call(progress)
    machine = offline_sfn.create_state_machine(
        "poll",
        asl(
            "Wait a bit",
            {
                "Wait a bit": {"Type": "Wait", "SecondsPath": "$.interval", "Next": "Describe"},
                "Describe": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:describeServices",
                    "Parameters": {"Cluster": "c1", "Services": ["web"]},
                    "ResultSelector": {
                        "state.$": "$.Services[0].Deployments[0].RolloutState",
                    },
                    "ResultPath": "$.rollout",
                    "Next": "Healthy?",
                },
                "Healthy?": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": "$.rollout.state",
                            "StringEquals": "COMPLETED",
                            "Next": "Done",
                        }
                    ],
                    "Default": "Wait a bit",
                },
                "Done": {"Type": "Succeed"},
            },
        ),
    )

    # WHEN it runs, with a 30-second poll interval
    started = time.monotonic()
    report = offline_sfn.run(machine, {"interval": 30}, name="poll-1", timeout_s=10)

    # THEN it looped three times, recorded 90 s of waiting, and took no such time
    assert report.status == "SUCCEEDED", report.cause
    assert report.path == ["Wait a bit", "Describe", "Healthy?"] * 3 + ["Done"]
    assert report.transitions == 10
    assert report.waits == [WaitRecord("Wait a bit", 30.0, "wait")] * 3
    assert time.monotonic() - started < 5
    assert describes[0] == {"cluster": "c1", "services": ["web"]}


def test_time_scale_makes_waits_take_scaled_time() -> None:
    # GIVEN a 100-second Wait and a time scale of 1/1000
    with OfflineStepFunctions(time_scale=0.001) as sfn:
        machine = sfn.create_state_machine(
            "wait",
            asl("Wait", {"Wait": {"Type": "Wait", "Seconds": 100, "End": True}}),
        )

        # WHEN it runs
        started = time.monotonic()
        report = sfn.run(machine, {}, name="wait-1")

    # THEN it slept about 0.1 s, and recorded 100 s
    assert report.waits == [WaitRecord("Wait", 100.0, "wait")]
    assert 0.09 <= time.monotonic() - started < 5


def test_gap04_without_it_waits_and_back_offs_take_real_time_and_are_not_recorded() -> None:
    # GIVEN moto with waiting left open, a 1-second Wait, then a task that fails once and is
    # retried after 1 second
    attempts: list[Any] = []

    def handler(event: Any, context: Any) -> None:
        attempts.append(event)
        if len(attempts) == 1:
            raise DatabaseNotReady("the database system is starting up")

    with moto_without("gap04_no_sleeping") as sfn:
        arn = sfn.register_lambda("check_database", handler)
        machine = sfn.create_state_machine(
            "waits",
            asl(
                "Wait",
                {
                    "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Call"},
                    "Call": {
                        "Type": "Task",
                        "Resource": arn,
                        "Retry": [{"ErrorEquals": ["DatabaseNotReady"], "IntervalSeconds": 1}],
                        "End": True,
                    },
                },
            ),
        )

        # WHEN it runs
        started = time.monotonic()
        report = sfn.run(machine, {}, name="waits-1")
        elapsed = time.monotonic() - started

    # THEN it succeeded only after really sleeping both seconds, and recorded no wait
    assert report.status == "SUCCEEDED", report.cause
    assert len(attempts) == 2
    assert elapsed >= 2.0
    assert report.waits == []


# -- 5. service names (gap05_service_names) --------------------------------------------------------
# aws-sdk service names map to botocore's.


def test_other_aws_sdk_services_the_deploy_machine_uses(offline_sfn: OfflineStepFunctions) -> None:
    # GIVEN a service with a scalable target, a task definition, an image and a target group
    task_definition = make_ecs_service(offline_sfn)
    offline_sfn.client("ecr").create_repository(repositoryName="app")
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "layers": [],
        }
    )
    offline_sfn.client("ecr").put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")
    vpc = offline_sfn.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    target_group = offline_sfn.client("elbv2").create_target_group(
        Name="web", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    sdk = "arn:aws:states:::aws-sdk:"
    machine = offline_sfn.create_state_machine(
        "services",
        asl(
            "Suspend autoscaling",
            {
                "Suspend autoscaling": {
                    "Type": "Task",
                    "Resource": f"{sdk}applicationautoscaling:registerScalableTarget",
                    "Parameters": {
                        "ServiceNamespace": "ecs",
                        "ResourceId": "service/c1/web",
                        "ScalableDimension": "ecs:service:DesiredCount",
                        "MinCapacity": 1,
                        "MaxCapacity": 4,
                        "SuspendedState": {
                            "DynamicScalingInSuspended": True,
                            "DynamicScalingOutSuspended": True,
                            "ScheduledScalingSuspended": True,
                        },
                    },
                    "ResultPath": None,
                    "Next": "Read autoscaling",
                },
                "Read autoscaling": {
                    "Type": "Task",
                    "Resource": f"{sdk}applicationautoscaling:describeScalableTargets",
                    "Parameters": {"ServiceNamespace": "ecs", "ResourceIds": ["service/c1/web"]},
                    "ResultSelector": {
                        "suspended.$": "$.ScalableTargets[0].SuspendedState",
                        "count.$": "States.ArrayLength($.ScalableTargets)",
                    },
                    "ResultPath": "$.autoscaling",
                    "Next": "Read task definition",
                },
                "Read task definition": {
                    "Type": "Task",
                    "Resource": f"{sdk}ecs:describeTaskDefinition",
                    "Parameters": {"TaskDefinition.$": "$.task_definition"},
                    "ResultSelector": {
                        "image.$": "$.TaskDefinition.ContainerDefinitions[0].Image",
                    },
                    "ResultPath": "$.task",
                    "Next": "Read image",
                },
                "Read image": {
                    "Type": "Task",
                    "Resource": f"{sdk}ecr:describeImages",
                    "Parameters": {"RepositoryName": "app", "ImageIds": [{"ImageTag": "v1"}]},
                    "ResultSelector": {
                        "digest.$": "$.ImageDetails[0].ImageDigest",
                        "pushed_at.$": "$.ImageDetails[0].ImagePushedAt",
                    },
                    "ResultPath": "$.image",
                    "Next": "Read targets",
                },
                "Read targets": {
                    "Type": "Task",
                    "Resource": f"{sdk}elasticloadbalancingv2:describeTargetHealth",
                    "Parameters": {"TargetGroupArn.$": "$.target_group"},
                    "ResultSelector": {"count.$": "States.ArrayLength($.TargetHealthDescriptions)"},
                    "ResultPath": "$.targets",
                    "Next": "Read execution",
                },
                "Read execution": {
                    "Type": "Task",
                    "Resource": f"{sdk}sfn:describeExecution",
                    "Parameters": {"ExecutionArn.$": "$$.Execution.Id"},
                    "ResultSelector": {
                        "status.$": "$.Status",
                        "started.$": "$.StartDate",
                    },
                    "ResultPath": "$.execution",
                    "End": True,
                },
            },
        ),
    )

    # WHEN it runs
    report = offline_sfn.run(
        machine,
        {"task_definition": task_definition, "target_group": target_group},
        name="services-1",
    )

    # THEN every call went through with PascalCase in and out, timestamps as strings
    assert report.status == "SUCCEEDED", report.cause
    out = report.output
    assert out["autoscaling"] == {
        "suspended": {
            "DynamicScalingInSuspended": True,
            "DynamicScalingOutSuspended": True,
            "ScheduledScalingSuspended": True,
        },
        "count": 1,
    }
    assert out["task"] == {"image": "repo:1"}
    assert out["image"]["digest"].startswith("sha256:")
    assert isinstance(out["image"]["pushed_at"], str)
    assert out["targets"] == {"count": 0}
    assert out["execution"]["status"] == "RUNNING"
    assert isinstance(out["execution"]["started"], str)


def test_gap05_without_it_an_aws_sdk_service_name_is_unknown_to_botocore() -> None:
    # GIVEN moto with service names left open, and an aws-sdk call to elasticloadbalancingv2
    with moto_without("gap05_service_names") as sfn:
        machine = sfn.create_state_machine(
            "targets",
            asl(
                "Read target groups",
                {
                    "Read target groups": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::aws-sdk:elasticloadbalancingv2:"
                        "describeTargetGroups",
                        "Parameters": {},
                        "End": True,
                    }
                },
            ),
        )

        # WHEN it runs
        report = sfn.run(machine, {}, name="targets-1")

    # THEN the call never reached moto's ELB: botocore knows the service as elbv2
    assert report.status == "FAILED"
    assert report.error == "States.Runtime"
    assert "elasticloadbalancingv2" in str(report.cause)


# -- 6. error names (gap06_error_names) ------------------------------------------------------------
# aws-sdk errors are Service.CodeException in PascalCase.


MISSING_SERVICE_STATES: dict[str, Any] = {
    "Update missing": {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:ecs:updateService",
        "Parameters": {"Cluster": "c1", "Service": "missing", "DesiredCount": 1},
        "Catch": [
            {
                "ErrorEquals": ["Ecs.ServiceNotFoundException"],
                "ResultPath": "$.error",
                "Next": "Caught",
            }
        ],
        "End": True,
    },
    "Caught": {"Type": "Succeed"},
}
"""Update a service that does not exist, and catch the error by the name AWS gives it."""


def test_aws_sdk_ecs_update_changes_the_service_and_errors_are_named_like_aws(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a service and a machine that scales it to zero, then updates a missing service
    # and catches the error by its AWS name
    make_ecs_service(offline_sfn)
    machine = offline_sfn.create_state_machine(
        "update",
        asl(
            "Scale to zero",
            {
                "Scale to zero": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:ecs:updateService",
                    "Parameters": {"Cluster": "c1", "Service": "web", "DesiredCount": 0},
                    "ResultSelector": {"desired.$": "$.Service.DesiredCount"},
                    "ResultPath": "$.scaled",
                    "Next": "Update missing",
                },
                **MISSING_SERVICE_STATES,
            },
        ),
    )

    # WHEN it runs
    report = offline_sfn.run(machine, {}, name="update-1")

    # THEN the service really is at zero, and the error was caught as Ecs.ServiceNotFoundException
    assert report.status == "SUCCEEDED", report.cause
    assert report.path == ["Scale to zero", "Update missing", "Caught"]
    assert report.output["scaled"] == {"desired": 0}
    assert report.output["error"]["Error"] == "Ecs.ServiceNotFoundException"
    service = offline_sfn.client("ecs").describe_services(cluster="c1", services=["web"])
    assert service["services"][0]["desiredCount"] == 0
    failed = [e for e in report.history if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "Ecs.ServiceNotFoundException"


def lock_machine(resource_prefix: str) -> str:
    """Take a lock (conditional put), read it, take it again (must fail), release it."""
    return asl(
        "Take the deployment lock",
        {
            "Take the deployment lock": {
                "Type": "Task",
                "Resource": f"{resource_prefix}putItem",
                "Parameters": {
                    "TableName": "locks",
                    "Item": {"lock_id": {"S": "web"}, "owner": {"S.$": "$$.Execution.Name"}},
                    "ConditionExpression": "attribute_not_exists(lock_id)",
                },
                "ResultPath": None,
                "Next": "Read lock",
            },
            "Read lock": {
                "Type": "Task",
                "Resource": f"{resource_prefix}getItem",
                "Parameters": {"TableName": "locks", "Key": {"lock_id": {"S": "web"}}},
                "ResultSelector": {"owner.$": "$.Item.owner.S"},
                "ResultPath": "$.lock",
                "Next": "Bump",
            },
            "Bump": {
                "Type": "Task",
                "Resource": f"{resource_prefix}updateItem",
                "Parameters": {
                    "TableName": "locks",
                    "Key": {"lock_id": {"S": "web"}},
                    "UpdateExpression": "SET attempts = :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                },
                "ResultPath": None,
                "Next": "Take it again",
            },
            "Take it again": {
                "Type": "Task",
                "Resource": f"{resource_prefix}putItem",
                "Parameters": {
                    "TableName": "locks",
                    "Item": {"lock_id": {"S": "web"}},
                    "ConditionExpression": "attribute_not_exists(lock_id)",
                },
                "Catch": [
                    {
                        "ErrorEquals": [
                            "DynamoDB.ConditionalCheckFailedException",
                            "DynamoDb.ConditionalCheckFailedException",
                        ],
                        "ResultPath": "$.error",
                        "Next": "Release the deployment lock",
                    }
                ],
                "Next": "Release the deployment lock",
            },
            "Release the deployment lock": {
                "Type": "Task",
                "Resource": f"{resource_prefix}deleteItem",
                "Parameters": {"TableName": "locks", "Key": {"lock_id": {"S": "web"}}},
                "ResultPath": None,
                "End": True,
            },
        },
    )


def create_lock_table(dynamodb: Any) -> None:
    """The table "locks", keyed by lock_id, as the deployment lock's."""
    dynamodb.create_table(
        TableName="locks",
        KeySchema=[{"AttributeName": "lock_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "lock_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.mark.parametrize(
    ("resource_prefix", "error_name"),
    [
        ("arn:aws:states:::dynamodb:", "DynamoDB.ConditionalCheckFailedException"),
        ("arn:aws:states:::aws-sdk:dynamodb:", "DynamoDb.ConditionalCheckFailedException"),
    ],
)
def test_dynamodb_lock_condition_failure_is_catchable_by_its_aws_name(
    offline_sfn: OfflineStepFunctions, resource_prefix: str, error_name: str
) -> None:
    # GIVEN a lock table and the lock machine on the optimised or the aws-sdk integration
    dynamodb = offline_sfn.client("dynamodb")
    create_lock_table(dynamodb)
    machine = offline_sfn.create_state_machine("lock", lock_machine(resource_prefix))

    # WHEN it runs
    report = offline_sfn.run(machine, {}, name="lock-1")

    # THEN the second take failed with the integration's AWS error name, and the lock is gone
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["lock"] == {"owner": "lock-1"}
    assert report.output["error"]["Error"] == error_name
    assert report.path[-1] == "Release the deployment lock"
    assert "Item" not in dynamodb.get_item(TableName="locks", Key={"lock_id": {"S": "web"}})


def test_gap06_without_it_the_aws_error_name_is_not_caught() -> None:
    # GIVEN moto with error names left open, and a Catch on the name AWS gives a missing service
    with moto_without("gap06_error_names") as sfn:
        sfn.client("ecs").create_cluster(clusterName="c1")
        machine = sfn.create_state_machine("update", asl("Update missing", MISSING_SERVICE_STATES))

        # WHEN it runs
        report = sfn.run(machine, {}, name="update-1")

    # THEN moto's name (not Ecs.ServiceNotFoundException) ends the run uncaught
    assert report.status == "FAILED"
    assert report.error != "Ecs.ServiceNotFoundException"
    assert str(report.error).lower() == "ecs.servicenotfoundexception"


# -- 7. event capture (gap07_event_capture) --------------------------------------------------------
# Every entry put on EventBridge can be read back.


ANNOUNCE_MACHINE = asl(
    "Announce success",
    {
        "Announce success": {
            "Type": "Task",
            "Resource": "arn:aws:states:::events:putEvents",
            "Parameters": {
                "Entries": [
                    {
                        "EventBusName": "deploys",
                        "Source": "pushgate",
                        "DetailType": "Deployment Succeeded",
                        "Detail": {
                            "tag.$": "$.tag",
                            "execution_arn.$": "$$.Execution.Id",
                        },
                    }
                ]
            },
            "End": True,
        }
    },
)


def test_events_put_are_captured_with_detail_parsed(offline_sfn: OfflineStepFunctions) -> None:
    # GIVEN a bus and a machine announcing success with events:putEvents
    offline_sfn.client("events").create_event_bus(Name="deploys")
    machine = offline_sfn.create_state_machine("announce", ANNOUNCE_MACHINE)

    # WHEN it runs
    report = offline_sfn.run(machine, {"tag": "v42"}, name="announce-1")

    # THEN the entry was put once, with its Detail as an object
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["FailedEntryCount"] == 0
    events = offline_sfn.put_events()
    assert len(events) == 1
    assert events[0]["Source"] == "pushgate"
    assert events[0]["DetailType"] == "Deployment Succeeded"
    assert events[0]["EventBusName"] == "deploys"
    assert events[0]["Detail"] == {"tag": "v42", "execution_arn": report.execution_arn}


def test_gap07_without_it_what_a_run_put_on_eventbridge_cannot_be_read_back() -> None:
    # GIVEN moto with event capture left open, and the announcing machine
    with moto_without("gap07_event_capture") as sfn:
        sfn.client("events").create_event_bus(Name="deploys")
        machine = sfn.create_state_machine("announce", ANNOUNCE_MACHINE)

        # WHEN it runs
        report = sfn.run(machine, {"tag": "v42"}, name="announce-1")
        events = sfn.put_events()

    # THEN EventBridge took the entry, and nothing of it can be read
    assert report.status == "SUCCEEDED", report.cause
    assert report.output["FailedEntryCount"] == 0
    assert events == []


# -- 8. life cycle (lifecycle) ---------------------------------------------------------------------
# Exit waits for every execution; one instance at a time; the gaps are the modules.


def test_exit_waits_for_running_executions_and_undoes_every_patch() -> None:
    # GIVEN an execution still waiting (scaled time) when the block ends
    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions.parser.asl.utils import json_path

    original_invoke = LambdaFunction._invoke_lambda
    original_extract = json_path.extract_json
    finished: list[str] = []

    def handler(event: Any, context: Any) -> None:
        finished.append(event["who"])

    with OfflineStepFunctions(time_scale=0.002) as sfn:
        arn = sfn.register_lambda("late", handler)
        machine = sfn.create_state_machine(
            "late",
            asl(
                "Wait",
                {
                    "Wait": {"Type": "Wait", "Seconds": 50, "Next": "Call"},
                    "Call": {"Type": "Task", "Resource": arn, "End": True},
                },
            ),
        )
        sfn.start(machine, {"who": "late"}, name="late-1")
        assert LambdaFunction._invoke_lambda is not original_invoke

        # WHEN the block ends right away
    # THEN the execution had finished inside the emulation, and the patches are gone
    assert finished == ["late"]
    assert LambdaFunction._invoke_lambda is original_invoke
    assert json_path.extract_json is original_extract


def test_only_one_instance_is_active_at_a_time(offline_sfn: OfflineStepFunctions) -> None:
    # GIVEN an active instance, WHEN a second one is entered, THEN it refuses
    with pytest.raises(RuntimeError), OfflineStepFunctions():
        pass


def test_an_unknown_gap_cannot_be_left_open() -> None:
    # GIVEN a gap name that is not a module of pushgate_cli.offline.gaps
    # WHEN it is left open THEN the interpreter refuses to start
    with pytest.raises(UnknownGap), moto_without("gap99_typo"):
        pass


def test_every_gap_has_a_test_here_that_leaves_it_open() -> None:
    # GIVEN the gap modules, WHEN this file is read
    source = Path(__file__).read_text()

    # THEN each is left open by a test that shows moto differs without it
    assert len(gap_names()) >= 10
    assert [g for g in gap_names() if f'moto_without("{g}")' not in source] == []


# -- 9. start time (gap09_start_time) --------------------------------------------------------------
# $$.Execution.StartTime is an ISO 8601 string.


START_TIME_MACHINE = asl(
    "Note the start",
    {
        "Note the start": {
            "Type": "Pass",
            "Parameters": {"started.$": "$$.Execution.StartTime"},
            "End": True,
        }
    },
)


def test_gap09_the_start_time_in_the_context_object_is_an_iso_8601_string(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a machine that writes $$.Execution.StartTime to its output
    machine = offline_sfn.create_state_machine("start-time", START_TIME_MACHINE)

    # WHEN it runs
    report = offline_sfn.run(machine, {}, name="start-time-1")

    # THEN the start time is a string as AWS writes it: UTC, milliseconds, Z
    assert report.status == "SUCCEEDED", report.cause
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", report.output["started"])


def test_gap09_without_it_moto_cannot_even_describe_the_execution() -> None:
    # GIVEN moto with the start time left open, and the same machine
    with moto_without("gap09_start_time") as sfn:
        machine = sfn.create_state_machine("start-time", START_TIME_MACHINE)
        execution = sfn.start(machine, {}, name="start-time-1")

        # WHEN the execution is described
        # THEN moto fails to serialise the datetime it put in the output
        with pytest.raises(TypeError):
            sfn.wait(execution)


# -- 10. quiet handled errors (gap10_quiet_handled_errors) -----------------------------------------
# A handled error is in the history, not in the log at ERROR.


HANDLED_ERROR_MACHINE = asl(
    "Is there a previous run?",
    {
        "Is there a previous run?": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.previous", "IsPresent": True, "Next": "Compare"}],
            "Default": "First run",
        },
        "Compare": {"Type": "Succeed"},
        "First run": {"Type": "Succeed"},
    },
)
"""A Choice that asks whether a field is there (it is not): a run exactly as designed."""


def evaluation_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == EVALUATION_LOGGER and r.levelno >= logging.ERROR]


def test_gap10_an_error_the_machine_handles_is_not_logged_as_an_error(
    offline_sfn: OfflineStepFunctions, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a machine whose Choice asks whether a field is present, and an input without it
    machine = offline_sfn.create_state_machine("handled", HANDLED_ERROR_MACHINE)

    # WHEN it runs
    with caplog.at_level(logging.ERROR, logger=EVALUATION_LOGGER):
        report = offline_sfn.run(machine, {}, name="handled-1")

    # THEN it went as designed, and the log has no error
    assert report.status == "SUCCEEDED", report.cause
    assert report.path == ["Is there a previous run?", "First run"]
    assert evaluation_errors(caplog) == []


def test_gap10_without_it_moto_logs_the_handled_error_at_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN moto with the evaluator's log left open, and the same machine
    with moto_without("gap10_quiet_handled_errors") as sfn:
        machine = sfn.create_state_machine("handled", HANDLED_ERROR_MACHINE)

        # WHEN it runs
        with caplog.at_level(logging.ERROR, logger=EVALUATION_LOGGER):
            report = sfn.run(machine, {}, name="handled-1")

    # THEN the run went the same way, and yet moto logged an error for it
    assert report.path == ["Is there a previous run?", "First run"]
    assert evaluation_errors(caplog) != []


# -- 11. parse once (gap11_parse_once) -------------------------------------------------------------
# A definition's syntax tree is kept; components are built fresh.


def parse_twice(definition: str) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    return AmazonStateLanguageParser.parse(definition), AmazonStateLanguageParser.parse(definition)


def test_gap11_a_definition_is_parsed_once_and_each_parse_builds_fresh_components(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a definition, WHEN moto parses it twice (two executions of one machine)
    definition = asl("Only", {"Only": {"Type": "Pass", "Comment": "gap 11", "End": True}})
    (first_program, first_tree), (second_program, second_tree) = parse_twice(definition)

    # THEN the syntax tree is the one kept, and the evaluation components are new
    assert second_tree is first_tree
    assert second_program is not first_program


def test_gap11_without_it_moto_parses_the_definition_again_for_every_execution() -> None:
    # GIVEN moto with parsing left open, WHEN it parses one definition twice
    with moto_without("gap11_parse_once"):
        definition = asl("Only", {"Only": {"Type": "Pass", "Comment": "gap 11 open", "End": True}})
        (_, first_tree), (_, second_tree) = parse_twice(definition)

    # THEN each parse built a new syntax tree
    assert second_tree is not first_tree


# -- 12. uncatchable errors (gap12_uncatchable_errors) ---------------------------------------------
# States.ALL neither catches nor retries States.Runtime / States.DataLimitExceeded.


def runtime_error_machine(sfn: OfflineStepFunctions, payload: dict[str, Any]) -> str:
    """A Lambda task whose Parameters may name a path the input lacks (States.Runtime), with a
    States.ALL Retry and a States.ALL Catch leading to a compensation."""
    arn = sfn.register_lambda("work", lambda event, context: {"done": True})
    return sfn.create_state_machine(
        "uncatchable",
        asl(
            "Work",
            {
                "Work": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload": payload},
                    "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Compensate"}],
                    "End": True,
                },
                "Compensate": {"Type": "Pass", "End": True},
            },
        ),
    )


def test_gap12_a_runtime_error_ends_the_run_past_a_states_all_catch(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a task whose Parameters name a path its input lacks, under States.ALL Retry/Catch
    machine = runtime_error_machine(offline_sfn, {"x.$": "$.missing"})

    # WHEN it runs
    report = offline_sfn.run(machine, {}, name="runtime")

    # THEN the execution fails with States.Runtime at once, as in AWS: no retry, no compensation
    assert (report.status, report.error) == ("FAILED", "States.Runtime")
    assert report.path == ["Work"]
    assert report.waits == []


def test_gap12_states_all_still_catches_every_other_error(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN the same machine whose task fails the ordinary way (a path that does exist, but the
    # function name is wrong: Lambda.ResourceNotFoundException)
    machine = runtime_error_machine(offline_sfn, {"x": 1})
    definition = json.loads(
        offline_sfn.client("stepfunctions").describe_state_machine(stateMachineArn=machine)[
            "definition"
        ]
    )
    definition["States"]["Work"]["Parameters"]["FunctionName"] = "no-such-function"
    other = offline_sfn.create_state_machine("catchable", json.dumps(definition))

    # WHEN it runs
    report = offline_sfn.run(other, {}, name="catchable")

    # THEN States.ALL retried it and then caught it: the compensation ran
    assert report.status == "SUCCEEDED"
    assert report.path == ["Work", "Compensate"]
    assert [w.kind for w in report.waits] == ["retry", "retry"]


def test_gap12_without_it_moto_catches_a_runtime_error_with_states_all() -> None:
    # GIVEN moto with this gap left open, and the machine of the first test
    with moto_without("gap12_uncatchable_errors") as sfn:
        machine = runtime_error_machine(sfn, {"x.$": "$.missing"})

        # WHEN it runs
        report = sfn.run(machine, {}, name="runtime-open")

    # THEN moto retried the States.Runtime, caught it and compensated: AWS would not have
    assert report.status == "SUCCEEDED"
    assert report.path == ["Work", "Compensate"]


# -- 13. task-token waits (gap13_task_token_waits) -------------------------------------------------
# A wait for a task token is answered during the tick, or times out at once; both recorded.


def token_machine(sfn: OfflineStepFunctions, tokens: list[str], timeout_s: int) -> str:
    """Park (a Lambda that keeps its task token) -> Done, or on States.Timeout -> Timed out."""

    def park(event: Any, context: Any) -> None:
        tokens.append(event["token"])

    arn = sfn.register_lambda("park", park)
    return sfn.create_state_machine(
        "tokens",
        asl(
            "Park",
            {
                "Park": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": timeout_s,
                    "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Timed out"}],
                    "End": True,
                },
                "Timed out": {"Type": "Pass", "End": True},
            },
        ),
    )


def test_a_task_token_wait_is_answered_in_its_tick_or_times_out_at_once(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a 600-second wait for a task token, and a world that answers the first run's wait
    # while it waits (as ECS's event would) and leaves the second run's unanswered
    tokens: list[str] = []
    machine = token_machine(offline_sfn, tokens, timeout_s=600)
    answered: list[tuple[str, str]] = []

    def world(execution_arn: str, state: str) -> None:
        if execution_arn.endswith(":woken"):
            answered.append((execution_arn, state))
            offline_sfn.client("stepfunctions").send_task_success(
                taskToken=tokens[-1], output=json.dumps({"woken": True})
            )

    offline_sfn.on_token_wait(world)

    # WHEN both run
    started = time.monotonic()
    woken = offline_sfn.run(machine, {}, name="woken")
    timed_out = offline_sfn.run(machine, {}, name="slept")

    # THEN the first ended with the answer, the second with States.Timeout, and no run slept
    assert woken.status == "SUCCEEDED", woken.cause
    assert woken.output == {"woken": True}
    assert answered == [(woken.execution_arn, "Park")]
    assert woken.waits == [WaitRecord("Park", 0.0, "woken")]
    assert timed_out.status == "SUCCEEDED", timed_out.cause
    assert timed_out.path == ["Park", "Timed out"]
    assert timed_out.output["Error"] == "States.Timeout"
    assert timed_out.waits == [WaitRecord("Park", 600.0, "timeout")]
    assert time.monotonic() - started < 60


def test_gap13_without_it_a_task_token_timeout_takes_real_time_and_is_not_recorded() -> None:
    # GIVEN moto with task-token waits left open, and a 2-second wait nobody answers
    tokens: list[str] = []
    with moto_without("gap13_task_token_waits") as sfn:
        machine = token_machine(sfn, tokens, timeout_s=2)

        # WHEN it runs
        started = time.monotonic()
        report = sfn.run(machine, {}, name="slept")
        elapsed = time.monotonic() - started

    # THEN it timed out only after really waiting, and recorded no wait
    assert report.path == ["Park", "Timed out"]
    assert elapsed >= 2.0
    assert report.waits == []


# -- 14. isolated DynamoDB transactions (gap14_isolated_dynamodb_transactions) -------------------
# A transaction that fails does not undo another thread's write.


def failing_transaction_beside_a_write(sfn: OfflineStepFunctions) -> list[str]:
    """A transaction whose condition fails (a queued run asking for a held lock) while another
    thread puts an item (the run taking a lock) once moto has begun the transaction; the keys
    the table holds after both."""
    from moto.dynamodb.models.table import Table

    dynamodb = sfn.client("dynamodb")
    create_lock_table(dynamodb)
    dynamodb.put_item(TableName="locks", Item={"lock_id": {"S": "shop-dev/api"}})
    writer = threading.Thread(
        target=sfn.client("dynamodb").put_item,
        kwargs={"TableName": "locks", "Item": {"lock_id": {"S": "shop-dev/web"}}},
    )
    read_item = Table.get_item

    def read_while_the_writer_writes(table: Any, *args: Any, **kwargs: Any) -> Any:
        if writer.ident is None:  # the transaction's first read: moto has copied the table
            writer.start()
            writer.join(timeout=1)  # it writes now, unless the transaction holds it back
        return read_item(table, *args, **kwargs)

    taken = {
        "TableName": "locks",
        "Item": {"lock_id": {"S": "shop-dev/api"}},
        "ConditionExpression": "attribute_not_exists(lock_id)",
    }
    with (
        patch.object(Table, "get_item", read_while_the_writer_writes),
        pytest.raises(ClientError) as failed,
    ):
        dynamodb.transact_write_items(TransactItems=[{"Put": taken}])
    writer.join(timeout=10)
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    return sorted(item["lock_id"]["S"] for item in dynamodb.scan(TableName="locks")["Items"])


def test_gap14_a_failing_transaction_keeps_another_threads_write(
    offline_sfn: OfflineStepFunctions,
) -> None:
    # GIVEN a lock table, WHEN a transaction fails its condition while another thread writes
    keys = failing_transaction_beside_a_write(offline_sfn)

    # THEN the other write is in the table, as DynamoDB keeps it
    assert keys == ["shop-dev/api", "shop-dev/web"]


def test_gap14_without_it_a_failing_transaction_loses_another_threads_write() -> None:
    # GIVEN moto with DynamoDB's item operations left to interleave
    with moto_without("gap14_isolated_dynamodb_transactions") as sfn:
        # WHEN a transaction fails its condition while another thread writes
        keys = failing_transaction_beside_a_write(sfn)

    # THEN moto put back its copy of the table over that write: it is gone
    assert keys == ["shop-dev/api"]
