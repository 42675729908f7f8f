"""The health wait wakes when ECS says so, on the real definition (issue 14).

Each test runs `template.yaml`'s state machine offline with the shipped handlers, a real
PostgreSQL and ECS's deployment events routed as the template's EcsDeploymentRule routes them,
and checks what an operator would: the states entered, how each wait ended (woken by ECS's
event, or its safety poll timing out), what wake_rollout did with each event, and the outcome.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from pushgate_cli.rehearse import SCENARIOS, RehearsalConfig, RehearsalEnvironment, RunResult

pytestmark = pytest.mark.statemachine

WAIT = "Wait for ECS to say so"
SAFETY_POLL = 60.0  # samconfig.toml dev: SafetyPollSeconds


@pytest.fixture
def rehearsal(database_url: str) -> Callable[..., Any]:
    @contextmanager
    def open_environment(scenario: str = "healthy", **options: Any) -> Iterator[Any]:
        config = RehearsalConfig(scenario=SCENARIOS[scenario], database_url=database_url, **options)
        with RehearsalEnvironment(config) as env:
            yield env

    return open_environment


def health_waits(result: RunResult) -> list[tuple[str, float]]:
    return [(w.kind, w.seconds) for w in result.execution.waits if w.state == WAIT]


def outcomes(result: RunResult) -> list[tuple[str, bool, str | None]]:
    return [(e.name, e.delivered, e.outcome) for e in result.ecs_events]


def test_ecs_completing_the_rollout_wakes_the_wait_at_once(rehearsal: Any) -> None:
    # GIVEN ECS completes the rollout while the run waits for its word
    with rehearsal() as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN ECS's event woke the one wait (no safety poll ran out) and the new image serves
    assert result.status == "succeeded"
    assert health_waits(result) == [("woken", 0.0)]
    assert outcomes(result) == [("SERVICE_DEPLOYMENT_COMPLETED", True, "answered")]
    assert "Count the safety poll" not in result.path
    assert result.path[-3:] == [
        "Send the announcement",
        "How did the run end?",
        "Deployment succeeded",
    ]


def test_a_lost_event_is_caught_by_the_safety_poll(rehearsal: Any) -> None:
    # GIVEN ECS completes the rollout but its event never arrives
    with rehearsal(ecs_events_lost=True) as env:
        result = env.execute(env.push_event("release-2"))
        sent = [e["detail"]["eventName"] for e in env.simulator.events]

    # THEN the wait ran out after SafetyPollSeconds, the next look saw COMPLETED, it succeeded
    assert sent == ["SERVICE_DEPLOYMENT_COMPLETED"]
    assert result.ecs_events == []
    assert health_waits(result) == [("timeout", SAFETY_POLL)]
    assert result.path.count("Count the safety poll") == 1
    assert result.status == "succeeded"


def _for_another(what: str) -> Callable[[dict[str, Any]], list[dict[str, Any]]]:
    def route(event: dict[str, Any]) -> list[dict[str, Any]]:
        other = copy.deepcopy(event)
        if what == "deployment":
            other["detail"]["deploymentId"] = "ecs-svc/1111111111111111111"
        else:
            other["resources"] = [event["resources"][0].replace("/shop-api", "/cart")]
        return [other]

    return route


@pytest.mark.parametrize(
    ("what", "fate"), [("deployment", (True, "ignored")), ("service", (False, None))]
)
def test_an_event_for_another_deployment_or_service_wakes_nothing(
    rehearsal: Any, what: str, fate: tuple[bool, str | None]
) -> None:
    # GIVEN what arrives while the run waits is an event for another deployment or service
    with rehearsal() as env:
        env.ecs_event_route = _for_another(what)
        result = env.execute(env.push_event("release-2"))

    # THEN the rule does not deliver another service's, wake_rollout ignores another
    # deployment's, and the run goes on by its safety poll
    assert outcomes(result) == [("SERVICE_DEPLOYMENT_COMPLETED", *fate)]
    assert health_waits(result) == [("timeout", SAFETY_POLL)]
    assert result.status == "succeeded"


def test_a_failed_event_wakes_the_wait_and_the_run_rolls_back(rehearsal: Any) -> None:
    # GIVEN the circuit breaker marks the deployment FAILED while the run waits
    with rehearsal("unhealthy") as env:
        env.simulator.failed_tasks_to_fail = 2
        result = env.execute(env.push_event("release-2"))

    # THEN the FAILED event woke the wait, the look confirmed it, and the run rolled back
    assert health_waits(result) == [("woken", 0.0)]
    assert outcomes(result)[0] == ("SERVICE_DEPLOYMENT_FAILED", True, "answered")
    assert result.status == "rolled_back"
    assert result.path.index(WAIT) < result.path.index("Suspend autoscaling")
