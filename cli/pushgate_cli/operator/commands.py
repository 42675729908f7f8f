"""What `status`, `history`, `replay`, `redrive` and `explain` do: typed results, no printing."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import botocore.exceptions

from pushgate_cli.offline import ExecutionReport
from pushgate_cli.operator.account import Deployment, aws_errors, error_code, one_line
from pushgate_cli.operator.errors import NoRuns, Refused
from pushgate_cli.operator.runs import (
    FAIL_OUTCOMES,
    Run,
    console_url,
    describe,
    execution_arn,
    find,
    recent,
)

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # Docker's tag grammar
STATUS_RUNS = 5


@dataclass(frozen=True)
class Serving:
    """The serving record the last successful run wrote (the lock table's `#serving` item)."""

    digest: str
    pushed_at: str | None
    task_definition: str | None
    execution: str | None
    revision: str | None  # the schema revision that run reached (absent in older records)
    consecutive_failures: int | None
    tags: list[str]  # the image's tags in the repository now
    in_repository: bool
    since: datetime | None  # when that run ended
    run_kept: bool  # Step Functions still has that run (it keeps an ended run 90 days)


@dataclass(frozen=True)
class ServiceNow:
    task_definition: str
    desired: int
    running: int
    status: str  # ECS's: ACTIVE, DRAINING (being deleted) or INACTIVE (deleted)


@dataclass(frozen=True)
class Status:
    deployment: Deployment
    serving: Serving | None
    service: ServiceNow | None
    cluster_found: bool
    runs: list[Run]


@dataclass(frozen=True)
class Started:
    arn: str
    name: str
    input: dict[str, str]
    console_url: str


@dataclass(frozen=True)
class Explained:
    run: Run
    report: ExecutionReport
    definition: str  # the ASL the execution ran with


def status(deployment: Deployment) -> Status:
    """What serves and the last runs; a serving record whose run Step Functions no longer keeps
    (nor any other run) still reports the record and the service."""
    runs = list(recent(deployment, since=None, limit=STATUS_RUNS))
    serving = _serving(deployment)
    if not runs and serving is None:
        raise NoRuns(f"no runs yet of {deployment.state_machine_arn}")
    service, cluster_found = _service(deployment)
    return Status(deployment, serving, service, cluster_found, runs)


def history(deployment: Deployment, since: datetime) -> list[Run]:
    runs = list(recent(deployment, since=since, limit=None))
    if not runs:
        raise NoRuns(f"no runs of {deployment.state_machine_arn} since {since:%Y-%m-%d %H:%M} UTC")
    return runs


def replay(deployment: Deployment, reference: str, *, now: datetime | None = None) -> Started:
    """Start an execution with a replay input, for an image the repository holds."""
    if reference.startswith("sha256:"):
        if not _DIGEST.fullmatch(reference):
            raise Refused(f"{reference} is not a sha256: digest (64 hex digits): nothing started")
        image_id = {"imageDigest": reference}
    elif _TAG.fullmatch(reference):
        image_id = {"imageTag": reference}
    else:
        raise Refused(f"{reference!r} is neither an image tag nor a sha256: digest")
    ecr = deployment.client("ecr")
    with aws_errors(f"looking up {reference} in {deployment.repository}"):
        try:
            found = ecr.describe_images(repositoryName=deployment.repository, imageIds=[image_id])
        except ecr.exceptions.ImageNotFoundException:
            raise Refused(
                f"repository {deployment.repository} holds no image {reference}: nothing started"
            ) from None
    digest = str(found["imageDetails"][0]["imageDigest"])
    replay_input = {"repository": deployment.repository, "digest": digest}
    if "imageTag" in image_id:
        replay_input["tag"] = reference  # pinned to the digest the tag points at now
    when = now or datetime.now(UTC)
    # a name of its own for each replay (StartExecution returns the running execution for the
    # same name and input): two replays of one image in the same second are two runs, not one
    # run announced twice; the deployment lock serialises them and a replay is safe to repeat
    name = f"replay-{when:%Y%m%dT%H%M%S}-{digest[7:19]}-{secrets.token_hex(3)}"
    sfn = deployment.client("stepfunctions")
    with aws_errors(f"starting {name}"):
        started = sfn.start_execution(
            stateMachineArn=deployment.state_machine_arn, name=name, input=json.dumps(replay_input)
        )
    arn = str(started["executionArn"])
    return Started(arn, name, replay_input, console_url(deployment.region, arn))


def redrive(deployment: Deployment, reference: str) -> Run:
    """Redrive a run that died on its way (not one that ended where the definition ends it)."""
    run = describe(deployment, execution_arn(deployment, reference))
    if run.status == "SUCCEEDED":
        raise Refused(f"{run.name} {run.outcome}: there is nothing to redrive")
    if run.status in ("RUNNING", "PENDING_REDRIVE"):
        raise Refused(f"{run.name} is still {run.status}: nothing to redrive yet")
    if run.status == "FAILED" and run.error in FAIL_OUTCOMES:
        raise Refused(
            f"{run.name} ended as {run.outcome} ({run.error}): it finished its own "
            "compensation, so a redrive would only repeat its end; replay the push instead: "
            f"pushgate replay {_pushed_digest(run) or 'DIGEST'}"
        )
    if run.redrive_status == "NOT_REDRIVABLE":
        raise Refused(f"{run.name} cannot be redriven: {run.redrive_reason}")
    sfn = deployment.client("stepfunctions")
    with aws_errors(f"redriving {run.name}"):
        try:
            sfn.redrive_execution(executionArn=run.arn)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ExecutionNotRedrivable":
                raise
            message = one_line(exc.response.get("Error", {}).get("Message"))
            raise Refused(f"{run.name} cannot be redriven: {message}") from None
    return describe(deployment, run.arn)


def explain(deployment: Deployment, reference: str) -> Explained:
    """The path a real execution took, read from its history."""
    arn = execution_arn(deployment, reference)
    run = describe(deployment, arn)
    sfn = deployment.client("stepfunctions")
    history: list[dict[str, Any]] = []
    with aws_errors(f"reading the history of {run.name}"):
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            history.extend(page["events"])
        machine = sfn.describe_state_machine_for_execution(executionArn=arn)
    path = [
        str(e["stateEnteredEventDetails"]["name"])
        for e in history
        if "stateEnteredEventDetails" in e
    ]
    report = ExecutionReport(
        execution_arn=arn,
        status=run.status,
        output=run.output,
        error=run.error,
        cause=run.cause,
        history=history,
        path=path,
        waits=[],  # a real run's waits took real time: the history's timestamps show them
        transitions=len(path),
    )
    return Explained(run, report, str(machine["definition"]))


def _serving(deployment: Deployment) -> Serving | None:
    dynamodb = deployment.client("dynamodb")
    with aws_errors("reading the serving record"):
        item = dynamodb.get_item(
            TableName=deployment.outputs["LockTableName"],
            Key={"lock_id": {"S": deployment.outputs["ServingRecordId"]}},
            ConsistentRead=True,
        ).get("Item")
    if not item or "digest" not in item:
        return None

    def text(name: str) -> str | None:
        value = item.get(name, {})
        return str(value["S"]) if "S" in value else None

    failures = item.get("consecutive_failures", {}).get("N")
    digest = str(item["digest"]["S"])
    tags, in_repository = _tags(deployment, digest)
    execution = text("execution")
    run = find(deployment, execution) if execution else None
    return Serving(
        digest=digest,
        pushed_at=text("pushed_at"),
        task_definition=text("task_definition"),
        execution=execution,
        revision=text("revision"),
        consecutive_failures=int(failures) if failures is not None else None,
        tags=tags,
        in_repository=in_repository,
        since=run.stopped if run else None,
        run_kept=run is not None,
    )


def _tags(deployment: Deployment, digest: str) -> tuple[list[str], bool]:
    ecr = deployment.client("ecr")
    with aws_errors(f"looking up {digest}"):
        try:
            found = ecr.describe_images(
                repositoryName=deployment.repository, imageIds=[{"imageDigest": digest}]
            )
        except ecr.exceptions.ImageNotFoundException:
            return [], False
    return sorted(found["imageDetails"][0].get("imageTags", [])), True


def _service(deployment: Deployment) -> tuple[ServiceNow | None, bool]:
    """The ECS service now (None: not found), and whether its cluster exists."""
    ecs = deployment.client("ecs")
    with aws_errors("describing the service"):
        try:
            found = ecs.describe_services(
                cluster=deployment.outputs["ClusterName"],
                services=[deployment.outputs["ServiceName"]],
            )["services"]
        except ecs.exceptions.ClusterNotFoundException:
            return None, False
    if not found:
        return None, True
    service = ServiceNow(
        str(found[0]["taskDefinition"]),
        int(found[0]["desiredCount"]),
        int(found[0]["runningCount"]),
        str(found[0].get("status") or "ACTIVE"),
    )
    return service, True


def _pushed_digest(run: Run) -> str | None:
    data = run.input if isinstance(run.input, dict) else {}
    detail = data.get("detail") if isinstance(data.get("detail"), dict) else {}
    digest = detail.get("image-digest") if detail else data.get("digest")
    return digest if isinstance(digest, str) else None
