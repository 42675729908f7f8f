"""The deploy state machine's executions, read as deploy outcomes."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pushgate_cli.operator.account import Deployment, aws_errors
from pushgate_cli.operator.errors import Refused

# the Fail states' error names -> the outcome the run announced (docs/state-machine.md)
FAIL_OUTCOMES: Mapping[str, str] = {
    "DeploymentFailed": "failed",
    "DeploymentRolledBack": "rolled_back",
    "RollbackFailed": "rollback_failed",
    "DeploymentRejected": "rejected",
}
_STATUS_OUTCOMES = {
    "TIMED_OUT": "timed_out",
    "ABORTED": "aborted",
    "RUNNING": "running",
    "PENDING_REDRIVE": "pending_redrive",
}


@dataclass(frozen=True)
class Run:
    """One execution, as an operator reads it."""

    arn: str
    name: str
    status: str  # Step Functions' status
    outcome: str  # succeeded, superseded, failed, rolled_back, rollback_failed, rejected, ...
    started: datetime
    stopped: datetime | None
    error: str | None
    cause: str | None
    input: Any
    output: Any
    redrive_status: str | None
    redrive_reason: str | None
    console_url: str

    @property
    def duration_s(self) -> float | None:
        if self.stopped is None:
            return None
        return (self.stopped - self.started).total_seconds()

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_arn": self.arn,
            "name": self.name,
            "status": self.status,
            "outcome": self.outcome,
            "started": self.started.isoformat(),
            "stopped": self.stopped.isoformat() if self.stopped else None,
            "duration_s": self.duration_s,
            "error": self.error,
            "console_url": self.console_url,
        }


def outcome_of(status: str, error: str | None, output: Any) -> str:
    """What the run announced, from its status, its Fail state's error and its output."""
    if status == "SUCCEEDED":
        return "superseded" if isinstance(output, dict) and "superseded" in output else "succeeded"
    if status == "FAILED":
        return FAIL_OUTCOMES.get(error or "", "error")  # error: it died before it could say
    return _STATUS_OUTCOMES.get(status, status.lower())


def console_url(region: str, execution_arn: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/states/home?region={region}"
        f"#/v2/executions/details/{quote(execution_arn, safe='')}"
    )


def execution_arn(deployment: Deployment, reference: str) -> str:
    """An execution of this stack's state machine, by ARN or by name; refuse any other."""
    machine = deployment.state_machine_arn  # arn:aws:states:R:A:stateMachine:NAME
    prefix, _, machine_name = machine.rpartition(":stateMachine:")
    if not reference.startswith("arn:"):
        if not reference or ":" in reference:
            raise Refused(f"{reference!r} is neither an execution ARN nor an execution name")
        return f"{prefix}:execution:{machine_name}:{reference}"
    head, marker, rest = reference.partition(":execution:")
    other_machine, _, name = rest.partition(":")
    if not marker or not name:
        raise Refused(f"{reference} is not a Step Functions execution ARN")
    if head != prefix or other_machine != machine_name:
        raise Refused(
            f"{reference} is an execution of {head}:stateMachine:{other_machine}, not of "
            f"{deployment.stack.name}'s deploy state machine {machine}: nothing read"
        )
    return reference


def describe(deployment: Deployment, arn: str) -> Run:
    found = find(deployment, arn)
    if found is None:
        raise Refused(f"no execution {arn} in {deployment.region}")
    return found


def find(deployment: Deployment, arn: str) -> Run | None:
    """The execution, or None when Step Functions has none by this ARN (any more: it keeps an
    ended execution 90 days)."""
    sfn = deployment.client("stepfunctions")
    with aws_errors(f"describing execution {arn}"):
        try:
            found = sfn.describe_execution(executionArn=arn)
        except sfn.exceptions.ExecutionDoesNotExist:
            return None
    return _run(deployment, found)


def recent(deployment: Deployment, *, since: datetime | None, limit: int | None) -> Iterator[Run]:
    """The state machine's executions, newest first, started at or after `since`."""
    sfn = deployment.client("stepfunctions")
    seen = 0
    with aws_errors(f"listing the executions of {deployment.state_machine_arn}"):
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=deployment.state_machine_arn
        )
        for page in pages:
            for listed in page["executions"]:
                if since is not None and listed["startDate"] < since:
                    return  # newest first: every later one is older
                if limit is not None and seen >= limit:
                    return
                seen += 1
                yield describe(deployment, str(listed["executionArn"]))


def _run(deployment: Deployment, found: Mapping[str, Any]) -> Run:
    output = _json(found.get("output"))
    status = str(found["status"])
    error = found.get("error")
    return Run(
        arn=str(found["executionArn"]),
        name=str(found.get("name") or str(found["executionArn"]).rsplit(":", 1)[-1]),
        status=status,
        outcome=outcome_of(status, error, output),
        started=found["startDate"],
        stopped=found.get("stopDate"),
        error=error,
        cause=found.get("cause"),
        input=_json(found.get("input")),
        output=output,
        redrive_status=found.get("redriveStatus"),
        redrive_reason=found.get("redriveStatusReason"),
        console_url=console_url(deployment.region, str(found["executionArn"])),
    )


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
