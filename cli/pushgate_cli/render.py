"""Show a rehearsal to a person, like the Step Functions console's graph and event views."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pushgate_cli.offline.report import ExecutionReport, WaitRecord
from pushgate_cli.review_text import review_lines

if TYPE_CHECKING:  # the rehearsal imports moto, which the operator commands must not load
    from pushgate_cli.rehearse import RunResult

_FAILURE_EVENTS = {
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
}


@dataclass
class StateRow:
    """One entry into a state: what it did, how long it took, what it waited."""

    name: str
    entered: datetime | None
    exited: datetime | None = None
    errors: list[str] = field(default_factory=list)
    waits: list[WaitRecord] = field(default_factory=list)

    @property
    def took_ms(self) -> float | None:
        if self.entered is None or self.exited is None:
            return None
        return (self.exited - self.entered).total_seconds() * 1000

    @property
    def outcome(self) -> str:
        retried = sum(1 for w in self.waits if w.kind == "retry")
        if any(w.kind == "woken" for w in self.waits):
            return "woken by ECS's event"
        if not self.errors:
            return "ok"
        if self.exited is None:
            return f"failed: {self.errors[-1]}"
        if retried >= len(self.errors):
            return f"ok after {retried} retries ({self.errors[-1]})"
        return f"caught {self.errors[-1]}" + (f" after {retried} retries" if retried else "")


def state_rows(report: ExecutionReport) -> list[StateRow]:
    """The execution history folded into one row per state entered, in order."""
    rows: list[StateRow] = []
    open_rows: dict[str, StateRow] = {}
    for event in report.history:
        kind = str(event.get("type", ""))
        stamp = event.get("timestamp")
        when = stamp if isinstance(stamp, datetime) else None
        if kind.endswith("StateEntered"):
            row = StateRow(event["stateEnteredEventDetails"]["name"], when)
            rows.append(row)
            open_rows[row.name] = row
        elif kind.endswith("StateExited"):
            name = event["stateExitedEventDetails"]["name"]
            if name in open_rows:
                open_rows.pop(name).exited = when
        elif kind in _FAILURE_EVENTS and rows:
            details = event.get(_FAILURE_EVENTS[kind], {})
            rows[-1].errors.append(str(details.get("error", kind)))
    pending: dict[str, list[WaitRecord]] = defaultdict(list)
    for wait in report.waits:
        pending[wait.state].append(wait)
    for row in rows:
        queue = pending.get(row.name, [])
        if queue and queue[0].kind in ("wait", "woken", "timeout"):
            row.waits.append(queue.pop(0))
        while queue and queue[0].kind == "retry" and len(row.waits) < len(row.errors):
            row.waits.append(queue.pop(0))
    return rows


def _seconds(value: float) -> str:
    if value >= 60:
        return f"{value / 60:.1f} min"
    return f"{value:g} s"


def render(result: RunResult) -> str:
    rows = state_rows(result.execution)
    width = max([len(r.name) for r in rows] + [20])
    verdict = "as expected" if result.ok else f"NOT as expected (expected {result.expected})"
    lines = [
        f"pushgate rehearse: scenario {result.scenario}",
        f"push      {_describe_push(result.push)}",
        "",
        f"  {'#':>3}  {'state':<{width}}  {'took':>8}  {'waited':>10}  outcome",
    ]
    for number, row in enumerate(rows, 1):
        took = f"{row.took_ms:.0f} ms" if row.took_ms is not None else ""
        waited = sum(w.seconds for w in row.waits)
        outcome = row.outcome
        if number == len(rows) and result.execution.status != "RUNNING":
            outcome = f"end: {result.execution.error or result.execution.status.lower()}"
        lines.append(
            f"  {number:>3}  {row.name:<{width}}  {took:>8}  "
            f"{_seconds(waited) if row.waits else '':>10}  {outcome}"
        )
    simulated = sum(w.seconds for w in result.execution.waits)
    lines += [
        "",
        f"execution {result.execution.status}"
        + (f" ({result.execution.error})" if result.execution.error else "")
        + f", {result.execution.transitions} state transitions, "
        f"{_seconds(simulated)} of waits and retries simulated (not slept)",
        f"schema    {_schema(result)}",
        f"scripts   {scripts_line(result)}",
        f"service   {_service(result)}",
        f"serving   {_image(result.service.image)}",
        *review_lines(result.review),
    ]
    if result.events:
        for event in result.events:
            detail = event.get("Detail") or {}
            why = ": ".join(_readable(detail[k]) for k in ("error", "cause") if detail.get(k))
            suffix = f" ({_cut(why, 160)})" if why else ""
            routed = (
                "  -> alert topic"
                if event.get("DetailType") in result.alerts
                else "  (event bus only, not the alert topic)"
            )
            lines.append(f"event     {event.get('DetailType')}{suffix}{routed}")
    else:
        lines.append("event     (none put)")
    for sent in result.ecs_events:
        fate = f"wake_rollout: {sent.outcome}" if sent.delivered else "not delivered"
        lines.append(f"ecs       {sent.name} {sent.deployment_id} -> {fate}")
    lines += ["", f"status    {result.status}: {verdict}"]
    return "\n".join(lines)


def scripts_line(result: RunResult) -> str:
    """Where run_migrations read the scripts this run ran (its read before the lock)."""
    if result.scripts_image:
        return f"migrations read from image {result.scripts_image}"
    return "migrations bundled in the function (MigrationsSource bundled), or not read"


def _short(task_definition_arn: str) -> str:
    return task_definition_arn.rsplit("/", 1)[-1]


def _digest(digest: Any) -> str:
    text = str(digest)
    return text[:19] + "..." if text.startswith("sha256:") and len(text) > 19 else text


def _image(uri: str) -> str:
    repository, _, digest = uri.rpartition("@")
    return f"{repository.rsplit('/', 1)[-1]}@{_digest(digest)}" if digest else uri


def _schema(result: RunResult) -> str:
    """before -> after, with the round trip when the run applied and then undid revisions."""
    before, after = result.revision_before or "base", result.revision_after or "base"
    applied = [rev for e in result.events for rev in (e.get("Detail") or {}).get("applied") or []]
    if applied and before == after:
        count = f"{len(applied)} revision{'s' if len(applied) != 1 else ''}"
        return f"{before} -> {applied[-1]} -> {after} (applied {count}, then downgraded)"
    return f"{before} -> {after}"


def _service(result: RunResult) -> str:
    """task definition x desired count: before, each change the run made, after."""
    steps = [(result.service_before.task_definition, result.service_before.desired_count)]
    steps += [(c["task_definition"], c["desired_count"]) for c in result.service_changes]
    shown = " -> ".join(f"{_short(td)} x{count}" for td, count in steps)
    return shown if result.service_changes else f"{shown} (untouched)"


def _readable(value: Any) -> str:
    """A Lambda error's cause is its JSON payload: show the message, not the stack trace."""
    text = str(value)
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            payload = json.loads(text)
            if isinstance(payload, dict) and "errorMessage" in payload:
                return str(payload["errorMessage"])
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_push(push: Any) -> str:
    if isinstance(push, dict) and isinstance(push.get("detail"), dict):
        detail = push["detail"]
        return (
            f"{detail.get('action-type')} {detail.get('result')} "
            f"{detail.get('repository-name')}:{detail.get('image-tag')} "
            f"@ {_digest(detail.get('image-digest'))}"
        )
    return f"replay {json.dumps(push)}"
