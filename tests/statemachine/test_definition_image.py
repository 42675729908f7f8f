"""The real definition names the pushed image, by digest, to every run_migrations call."""

from __future__ import annotations

from typing import Any

import pytest
from pushgate_cli.rehearse import ACCOUNT_ID, REGION, RehearsalConfig, RehearsalEnvironment
from pushgate_cli.scenarios import SCENARIOS

pytestmark = pytest.mark.statemachine


def test_the_upgrade_and_its_downgrade_name_the_pushed_digest(database_url: str) -> None:
    # GIVEN a rehearsal whose rollout never becomes healthy (so the schema is downgraded)
    calls: list[Any] = []

    def note(function: str, event: object, _error: BaseException | None) -> None:
        if function == "run_migrations":
            calls.append(event)

    config = RehearsalConfig(database_url=database_url, scenario=SCENARIOS["unhealthy"])
    with RehearsalEnvironment(config) as env:
        env.lambda_observers.append(note)
        event = env.push_event("release-2")
        # WHEN the push is deployed and rolled back
        result = env.execute(event)

    # THEN the upgrade and the downgrade each name the pushed image by its digest
    assert result.status == "rolled_back", result.path
    expected = {
        "registry": f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com",
        "repository": event["detail"]["repository-name"],
        "digest": event["detail"]["image-digest"],
    }
    actions = [(call["action"], call.get("image")) for call in calls]
    assert ("upgrade", expected) in actions
    assert ("revert", expected) in actions
