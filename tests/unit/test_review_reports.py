"""Where a person reads the schema review: `pushgate check-migrations` and the events."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pushgate.outcome import describe_outcome
from pushgate_cli.bench.cold_start import BUDGETS, budget_for
from pushgate_cli.main import EXIT_OK, main

from tests.helpers import load_event
from tests.review_projects import CREATE_USERS, DROP_NICKNAME, write_revision

pytestmark = pytest.mark.unit

REVIEW: dict[str, Any] = {
    "policy": "warn",
    "verdict": "breaks-serving",
    "destructive": True,
    "counts": {"safe": 0, "blocks-serving": 0, "breaks-serving": 1},
    "findings": [
        {
            "revision": "r2",
            "direction": "upgrade",
            "statement": "ALTER TABLE users DROP COLUMN nickname;",
            "rule": "ban-drop-column",
            "verdict": "breaks-serving",
            "accepted": None,
        }
    ],
    "accepted": 0,
}


def test_check_migrations_shows_each_revisions_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GIVEN a project whose second revision drops a column WHEN checked THEN each revision's
    verdict is printed, the finding with its statement, and what enforce would do."""
    versions = tmp_path / "versions"
    write_revision(versions, "r1", None, CREATE_USERS)
    write_revision(versions, "r2", "r1", DROP_NICKNAME)

    code = main(["check-migrations", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == EXIT_OK  # the runner's verdict: the review does not change it
    assert "review:            squawk 2.68.0" in out
    assert "  r1  safe" in out
    assert "  r2  breaks-serving" in out
    assert "ban-drop-column: ALTER TABLE users DROP COLUMN nickname;" in out
    assert "a push with r2 pending is rejected" in out


def payload(**written: Any) -> dict[str, Any]:
    event: dict[str, Any] = copy.deepcopy(load_event("describe_outcome"))
    event.update(written)
    return event


def test_a_reviewed_run_carries_the_review_in_its_event() -> None:
    detail = describe_outcome(payload(review=REVIEW))["detail"]

    assert detail["review"] == {key: REVIEW[key] for key in detail["review"]}
    assert set(detail["review"]) == set(REVIEW)


def test_the_review_in_an_event_stays_bounded_whatever_the_state_holds() -> None:
    """GIVEN a review with 40 findings and huge texts WHEN described THEN the event carries 5,
    each text cut to 200 characters."""
    finding = {**REVIEW["findings"][0], "statement": "x" * 5000, "accepted": "y" * 5000}
    detail = describe_outcome(payload(review={**REVIEW, "findings": [finding] * 40}))["detail"]

    assert len(detail["review"]["findings"]) == 5
    assert len(json.dumps(detail["review"])) < 3000


def test_a_run_the_review_never_reached_has_no_review_field() -> None:
    assert "review" not in describe_outcome(payload(review=None))["detail"]
    assert "review" not in describe_outcome(payload())["detail"]


def test_a_schema_rejection_is_announced_with_its_own_words() -> None:
    message = "revision r2 breaks the version still serving: rule ban-drop-column ..."
    reply = {"errorMessage": message, "errorType": "SchemaChangeRejected", "stackTrace": []}
    rejection = {"Error": "SchemaChangeRejected", "Cause": json.dumps(reply)}

    announcement = describe_outcome(payload(rejection=rejection))

    assert announcement["detail_type"] == "Deployment Rejected"
    assert announcement["detail"]["cause"] == message
    assert announcement["detail"]["error"] == "DeploymentRejected"


def test_the_review_lambdas_cold_start_is_judged_as_run_migrations_says_why() -> None:
    """It renders with alembic at each review and parses the scripts at cold start, as
    run_migrations does, so check_database's 100 ms is not its budget (the line says so)."""
    assert budget_for("review_schema", []) == BUDGETS["run_migrations"]
    assert BUDGETS["review_schema"].like == "run_migrations"
