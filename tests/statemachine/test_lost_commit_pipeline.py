"""A COMMIT whose reply is lost, end to end through the real definition offline: the unhealthy
scenario's migration commits, its reply never arrives (a loopback proxy between the functions
and PostgreSQL drops it), the rollout fails, and the compensation goes by where the database
really is."""

from __future__ import annotations

import pytest
from pushgate_cli.rehearse import RehearsalConfig, RehearsalEnvironment
from pushgate_cli.scenarios import SCENARIOS
from pushgate_cli.schema import move_to

from tests.helpers import CHAIN, HEAD, MIGRATIONS, revision
from tests.integration.proxy import CommitReplyLosingProxy, Loss

pytestmark = pytest.mark.statemachine

PREVIOUS = CHAIN[-2]


@pytest.mark.parametrize("keep_server_side", [False, True], ids=["connection-closed", "partition"])
def test_a_lost_commit_reply_then_a_failed_rollout_ends_at_from_revision(
    database_url: str, keep_server_side: bool
) -> None:
    # GIVEN the unhealthy scenario (the new tasks fail) at one revision below head, with the
    # functions reaching PostgreSQL through a proxy that will lose the migration COMMIT's reply
    move_to(database_url, MIGRATIONS, PREVIOUS)
    with CommitReplyLosingProxy(
        database_url, Loss.COMMIT_APPLIED, keep_server_side=keep_server_side
    ) as proxy:
        proxy.armed = False
        config = RehearsalConfig(scenario=SCENARIOS["unhealthy"], database_url=proxy.url)
        with RehearsalEnvironment(config) as env:
            assert env.revision() == PREVIOUS
            proxy.armed = True

            # WHEN a push runs
            result = env.execute(env.push_event("release-2"))
        lost = proxy.lost_replies

    # THEN the COMMIT's reply was lost, the run rolled back, and the schema ended at the
    # run's from_revision, with the service back on its previous version
    assert lost == 1
    assert result.status == "rolled_back", result.path
    assert "Downgrade schema" in result.path
    assert revision(database_url) == PREVIOUS
    assert result.service.task_definition == result.service_before.task_definition
    # AND the alert names both revisions: where the run started and where it had taken it
    (event,) = [e for e in result.events if e["DetailType"] == "Deployment Rolled Back"]
    detail = event["Detail"]
    assert (detail["from_revision"], detail["to_revision"]) == (PREVIOUS, HEAD)
    assert detail["applied"] == [HEAD]
