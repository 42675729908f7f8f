"""The review in words and in bounded shapes: the execution data's ``$.review`` (a summary of
bounded size), the Lambda's full result (bounded so a task's output stays far below Step
Functions' 256 KiB), and the rejection's message under ``enforce``."""

from __future__ import annotations

import json
from typing import Any, Final, TypedDict

from pushgate.review.rules import Verdict, verdict_of
from pushgate.review.verdicts import Finding, Policy, Review, RevisionReview

MAX_SUMMARY_FINDINGS: Final = 5  # findings $.review and the events carry
MAX_REVISION_CHARS: Final = 64  # a revision id as shown (ids come from the pushed image)
MAX_MESSAGE_CHARS: Final = 300  # squawk's message of a finding, in the full result
MAX_FULL_BYTES: Final = 64 * 1024  # the full result's JSON, at most
WAY_OUT: Final = (
    "ship it as expand/contract in two pushes: first a release that no longer needs what this "
    "revision removes or changes (with only the additive part of the change), then, once no "
    "serving version needs it, the contract revision, which accepts the rule by name in its "
    "module"
)


class FindingSummary(TypedDict):
    revision: str
    direction: str
    statement: str
    rule: str
    verdict: Verdict
    accepted: str | None  # the revision's reason, when it accepts the rule


class ReviewSummary(TypedDict):
    """``$.review``: what the state machine, issue 12's snapshot step and the events read."""

    policy: Policy
    verdict: Verdict  # the worst revision's
    destructive: bool  # the upgrade drops or rewrites something
    counts: dict[Verdict, int]  # pending revisions per verdict
    findings: list[FindingSummary]  # the first MAX_SUMMARY_FINDINGS, gating and worst first
    accepted: int  # findings the revisions accept


def _revision(revision: str) -> str:
    return revision if len(revision) <= MAX_REVISION_CHARS else revision[:63] + "\u2026"


def finding_summary(finding: Finding) -> FindingSummary:
    return FindingSummary(
        revision=_revision(finding.revision),
        direction=finding.direction,
        statement=finding.statement,
        rule=finding.rule,
        verdict=finding.verdict,
        accepted=finding.accepted,
    )


def summary(review: Review) -> ReviewSummary:
    """The bounded summary: counts per verdict and the first findings."""
    return ReviewSummary(
        policy=review.policy,
        verdict=review.verdict,
        destructive=review.destructive,
        counts=review.counts,
        findings=[finding_summary(f) for f in review.findings[:MAX_SUMMARY_FINDINGS]],
        accepted=review.accepted,
    )


def _size(value: Any) -> int:
    """Bytes of ``value`` as JSON, measured with json's default separators and escapes (the
    Lambda runtime's), plus the ", " that joins it to its neighbours."""
    return len(json.dumps(value).encode()) + 2


def full_result(review: Review) -> dict[str, Any]:
    """The Lambda's result: the summary's fields, squawk's version and every revision's
    findings with squawk's message, as far as :data:`MAX_FULL_BYTES` allows (then
    ``omitted_findings`` says how many were left out; the summary is always whole)."""
    result: dict[str, Any] = {**summary(review), "squawk": review.squawk, "revisions": []}
    budget = MAX_FULL_BYTES - _size({**result, "omitted_findings": len(review.findings)})
    omitted = 0
    for revision in review.revisions:
        entry: dict[str, Any] = {
            "revision": _revision(revision.revision),
            "verdict": revision.verdict,
            "destructive": revision.destructive,
            "findings": [],
        }
        budget -= _size(entry)
        if budget < 0:  # not even the revision's line fits: it is in the summary's counts
            omitted += len(revision.findings)
            continue
        for finding in revision.findings:
            row = {**finding_summary(finding), "message": finding.message[:MAX_MESSAGE_CHARS]}
            if _size(row) > budget:
                omitted += 1
                continue
            budget -= _size(row)
            entry["findings"].append(row)
        result["revisions"].append(entry)
    result["omitted_findings"] = omitted
    return result


def rejection_message(review: RevisionReview) -> str:
    """Why ``enforce`` rejects the push: the revision, its statement, the rule, the way out."""
    breaking = [f for f in review.findings if f.gates and f.verdict == "breaks-serving"]
    first = breaking[0]
    where = f", in: {first.statement}" if first.statement else f": {first.message}"
    more = f" (and {len(breaking) - 1} more such finding(s))" if len(breaking) > 1 else ""
    return (
        f"revision {_revision(review.revision)} breaks the version still serving: rule "
        f"{first.rule} ({verdict_of(first.rule).why}){where[:MAX_MESSAGE_CHARS]}{more}. "
        f"SchemaPolicy is enforce, so nothing was migrated. The way out: {WAY_OUT}: "
        f'pushgate_accept = {{"{first.rule}": "<why no serving version needs it>"}}.'
    )
