"""describe_outcome: a database lock that could not be released is noted, never fatal."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pushgate.outcome import describe_outcome

from tests.helpers import load_event

pytestmark = pytest.mark.unit


def run(**written: Any) -> dict[str, Any]:
    """The sample payload of a healthy run, with what the test says it wrote."""
    event: dict[str, Any] = copy.deepcopy(load_event("describe_outcome"))
    event.update(written)
    return event


def test_a_failed_release_is_noted_on_the_success_with_its_consequence() -> None:
    # GIVEN a healthy run whose "Release the database lock" failed (check_database's reply)
    reply = {
        "errorType": "DatabaseNotReady",
        "errorMessage": "cannot reach the database: timed out",
        "stackTrace": ["..."],
    }
    failed = {"Error": "DatabaseNotReady", "Cause": json.dumps(reply)}
    # WHEN its outcome is described
    announcement = describe_outcome(run(database_lock_error=failed))
    # THEN it is still a success, naming the failure in words and what becomes of the row
    assert announcement["detail_type"] == "Deployment Succeeded"
    noted = announcement["detail"]["database_lock_error"]
    assert noted["error"] == "DatabaseNotReady"
    assert noted["cause"] == "cannot reach the database: timed out"
    assert "pushgate_deploy_lock" in noted["consequence"]
    assert "no longer RUNNING" in noted["consequence"]


def test_a_released_lock_adds_nothing_to_the_event() -> None:
    # GIVEN runs whose release went through (null), or that predate the field
    for event in (run(database_lock_error=None), run()):
        # WHEN described THEN the event has no such field
        assert "database_lock_error" not in describe_outcome(event)["detail"]
