"""squawk's findings on each revision's rendered SQL -> the review: a verdict per revision.

A revision's verdict is the worst verdict (:mod:`pushgate.review.rules`) of its UPGRADE findings
that it does not accept (``pushgate_accept``); the upgrade is what runs while the old version
still serves. Its downgrade is reviewed too and its findings shown, but they gate nothing: the
downgrade runs only in a rollback, with the service scaled to zero. ``destructive``: the
upgrade drops or rewrites something (accepted or not), or could not be rendered or parsed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from pushgate.migrator.request import Direction
from pushgate.review.render import RenderedSQL
from pushgate.review.rules import (
    INVALID_ACCEPT,
    UNRENDERABLE,
    VERDICTS,
    Verdict,
    verdict_of,
    worst,
)
from pushgate.review.squawk import SquawkFinding

Policy = Literal["enforce", "warn"]
POLICIES: Final[tuple[Policy, ...]] = ("enforce", "warn")
MAX_STATEMENT_CHARS: Final = 160  # a statement, as a finding quotes it
_SPACE: Final = re.compile(r"\s+")


@dataclass(frozen=True)
class Accepts:
    """A revision's ``pushgate_accept`` ({rule: reason}), or why it is refused."""

    rules: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class Finding:
    revision: str
    direction: Direction
    rule: str
    verdict: Verdict
    statement: str  # the statement, cut to MAX_STATEMENT_CHARS
    message: str
    accepted: str | None = None  # the revision's reason, when it accepts the rule

    @property
    def gates(self) -> bool:
        """Whether it counts toward the revision's verdict."""
        return self.direction == "upgrade" and self.accepted is None


@dataclass(frozen=True)
class RevisionReview:
    revision: str
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        return worst([f.verdict for f in self.findings if f.gates])

    @property
    def destructive(self) -> bool:
        return any(
            f.direction == "upgrade" and verdict_of(f.rule).destructive for f in self.findings
        )


def excerpt(sql: str, line: int, column: int) -> str:
    """The statement of ``sql`` around 0-based ``line``/``column`` (alembic ends each statement
    with ``;`` and a newline), on one line, cut to :data:`MAX_STATEMENT_CHARS`."""
    lines = sql.split("\n")
    offset = sum(len(text) + 1 for text in lines[: max(line, 0)]) + max(column, 0)
    start = sql.rfind(";\n", 0, offset)
    end = sql.find(";\n", offset)
    statement = sql[start + 2 if start >= 0 else 0 : end + 1 if end >= 0 else len(sql)]
    words = _SPACE.sub(" ", statement).strip()
    if len(words) <= MAX_STATEMENT_CHARS:
        return words
    return words[: MAX_STATEMENT_CHARS - 1] + "\u2026"


def _finding(rendered: RenderedSQL, rule: str, statement: str, message: str) -> Finding:
    return Finding(
        rendered.revision,
        rendered.direction,
        rule,
        verdict_of(rule).verdict,
        statement,
        message,
    )


def _own_findings(rendered: RenderedSQL, accepts: Accepts) -> list[Finding]:
    found: list[Finding] = []
    if rendered.error is not None:
        found.append(_finding(rendered, UNRENDERABLE, "", rendered.error))
    if accepts.error is not None and rendered.direction == "upgrade":
        found.append(_finding(rendered, INVALID_ACCEPT, "", accepts.error))
    return found


def _accept(finding: Finding, accepts: Accepts) -> Finding:
    reason = accepts.rules.get(finding.rule)
    if reason is None or finding.direction != "upgrade":
        return finding
    return Finding(**{**finding.__dict__, "accepted": reason})


def judge(
    rendered: Sequence[RenderedSQL],
    findings: Mapping[int, Sequence[SquawkFinding]],
    accepts: Mapping[str, Accepts],
) -> tuple[RevisionReview, ...]:
    """Each revision's review, in the order of ``rendered`` (``findings``: squawk's, by the
    index of the rendered SQL they are about; ``accepts``: by revision)."""
    per_revision: dict[str, list[Finding]] = {r.revision: [] for r in rendered}
    for index, sql in enumerate(rendered):
        accepted = accepts.get(sql.revision, Accepts())
        seen: set[tuple[str, str]] = set()
        for row in [*_own_findings(sql, accepted)] + [
            _finding(sql, f.rule, excerpt(sql.sql, f.line, f.column), f.message)
            for f in findings.get(index, ())
        ]:
            if (row.rule, row.statement) in seen:  # squawk repeats a syntax error per token
                continue
            seen.add((row.rule, row.statement))
            per_revision[sql.revision].append(_accept(row, accepted))
    return tuple(
        RevisionReview(revision, tuple(sorted(rows, key=_severity)))
        for revision, rows in per_revision.items()
    )


def _severity(finding: Finding) -> tuple[int, int]:
    """Gating findings first, the worst first; then accepted ones; then the downgrade's."""
    group = 0 if finding.gates else 1 if finding.direction == "upgrade" else 2
    return group, -VERDICTS.index(finding.verdict)


@dataclass(frozen=True)
class Review:
    """The review of every pending revision under one policy."""

    policy: Policy
    revisions: tuple[RevisionReview, ...]
    squawk: str  # squawk's version

    @property
    def verdict(self) -> Verdict:
        return worst([r.verdict for r in self.revisions])

    @property
    def destructive(self) -> bool:
        return any(r.destructive for r in self.revisions)

    @property
    def counts(self) -> dict[Verdict, int]:
        """How many pending revisions have each verdict."""
        return {v: sum(r.verdict == v for r in self.revisions) for v in VERDICTS}

    @property
    def accepted(self) -> int:
        """How many findings the revisions accept."""
        return sum(f.accepted is not None for r in self.revisions for f in r.findings)

    @property
    def findings(self) -> list[Finding]:
        """Every finding, gating ones first and the worst first (then revision order)."""
        every = [f for r in self.revisions for f in r.findings]
        return sorted(every, key=_severity)

    def rejected(self) -> RevisionReview | None:
        """Under ``enforce``, the first revision that breaks the version still serving."""
        if self.policy != "enforce":
            return None
        return next((r for r in self.revisions if r.verdict == "breaks-serving"), None)
