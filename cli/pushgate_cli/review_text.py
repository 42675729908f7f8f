"""The schema review for a person: read from a run's history, in words for a terminal
(`pushgate rehearse`, `check-migrations`); report_html draws it as a table."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pushgate.outcome import lambda_message

if TYPE_CHECKING:
    from pushgate_cli.offline.report import ExecutionReport

MAX_SHOWN_FINDINGS = 5
_PAD = " " * 10


REVIEW_STATE = "Review the schema change"


def review_of(report: ExecutionReport) -> dict[str, Any] | None:
    """The last answer of REVIEW_STATE's task in the history: the full review, or its error
    ``{"error", "cause"}`` (a rejection names revision, statement and rule); None when the run
    never got there."""
    found: dict[str, Any] | None = None
    inside = False
    for event in report.history:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            inside = event["stateEnteredEventDetails"]["name"] == REVIEW_STATE
        elif inside and kind == "TaskSucceeded":
            output = json.loads(event["taskSucceededEventDetails"]["output"])
            found = output.get("Payload") if isinstance(output, dict) else None
        elif inside and kind == "TaskFailed":
            error, cause = (event["taskFailedEventDetails"].get(k) for k in ("error", "cause"))
            words = lambda_message(error, cause) if isinstance(cause, str) else cause
            found = {"error": error, "cause": words}
    return found


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def finding_line(finding: Mapping[str, Any]) -> str:
    """``rev upgrade: breaks-serving ban-drop-column: ALTER ... [accepted: why]``."""
    statement = f": {_cut(str(finding.get('statement')), 100)}" if finding.get("statement") else ""
    accepted = f" [accepted: {finding['accepted']}]" if finding.get("accepted") else ""
    direction = finding.get("direction")
    if direction == "downgrade":  # it runs only in a rollback, the service at zero
        direction = "downgrade (rollback only, never gating)"
    return (
        f"{finding.get('revision')} {direction}: {finding.get('verdict')} "
        f"{finding.get('rule')}{statement}{accepted}"
    )


def review_lines(review: Mapping[str, Any] | None) -> list[str]:
    """The review's verdict, counts and first findings (or why there is none), 10-wide label."""
    if review is None:
        return ["review    (the run never reached Review the schema change)"]
    if "error" in review:
        return [f"review    {review.get('error')}: {_cut(str(review.get('cause')), 400)}"]
    counts = review.get("counts") or {}
    shown = ", ".join(
        f"{counts.get(v, 0)} {v}" for v in ("safe", "blocks-serving", "breaks-serving")
    )
    squawk = f", squawk {review['squawk']}" if review.get("squawk") else ""
    lines = [
        f"review    {review.get('verdict')} under {review.get('policy')}: {shown} "
        f"revision(s), {review.get('accepted', 0)} finding(s) accepted{squawk}"
    ]
    findings = review.get("findings") or []
    lines += [f"{_PAD}{finding_line(f)}" for f in findings[:MAX_SHOWN_FINDINGS]]
    return lines
