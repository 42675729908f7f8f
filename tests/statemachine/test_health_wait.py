"""The health wait wakes when ECS says so, on the real definition (issue 14).

Each test runs `template.yaml`'s state machine offline with the shipped handlers, a real
PostgreSQL and ECS's deployment events routed as the template's EcsDeploymentRule routes them,
and checks what an operator would: the states entered, how each wait ended (woken by ECS's
event, or its safety poll timing out), what wake_rollout did with each event, and the outcome.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto.elbv2.models import FakeTargetGroup
from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment, RunResult
from pushgate_cli.scenarios import SCENARIOS

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


def woken(result: RunResult) -> list[dict[str, Any]]:
    """$.health as each exit of the wait left it (what "Is the new version healthy?" compares)."""
    return [
        json.loads(e["stateExitedEventDetails"]["output"])["health"]
        for e in result.execution.history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == WAIT
    ]


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
    assert result.path.count(WAIT) == 1
    assert result.path.index(WAIT) == result.path.index("Point the service at the new revision") + 1
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

    # THEN the wait ran out after SafetyPollSeconds, its retry looked at the service, saw
    # COMPLETED and answered itself: one state entered, the run succeeded
    assert sent == ["SERVICE_DEPLOYMENT_COMPLETED"]
    assert result.ecs_events == []
    assert health_waits(result) == [("timeout", SAFETY_POLL), ("retry", 1.0), ("woken", 0.0)]
    assert result.path.count(WAIT) == 1
    [health] = woken(result)
    assert (health["woken_by"], health["settled"]) == ("safety poll", "COMPLETED")
    # the safety poll's seconds counted, plus the real seconds since the wait parked
    # (wake_rollout's clock is real time: 0 on a quick machine, 1 on a slow one)
    assert SAFETY_POLL <= health["elapsed"] <= SAFETY_POLL + 5
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
    with rehearsal(polls_to_complete=2) as env:  # completes during the safety poll's retry
        env.ecs_event_route = _for_another(what)
        result = env.execute(env.push_event("release-2"))

    # THEN the rule does not deliver another service's, wake_rollout ignores another
    # deployment's, and the run goes on by its safety poll
    assert outcomes(result) == [("SERVICE_DEPLOYMENT_COMPLETED", *fate)]
    assert health_waits(result) == [("timeout", SAFETY_POLL), ("retry", 1.0), ("woken", 0.0)]
    assert woken(result)[0]["woken_by"] == "safety poll"
    assert result.status == "succeeded"


def test_a_failed_event_wakes_the_wait_and_the_run_rolls_back(rehearsal: Any) -> None:
    # GIVEN the circuit breaker marks the deployment FAILED while the run waits
    with rehearsal("unhealthy") as env:
        env.simulator.failed_tasks_to_fail = 1  # fails during the first wait
        result = env.execute(env.push_event("release-2"))

    # THEN the FAILED event woke the wait, the look confirmed it, and the run rolled back
    assert health_waits(result) == [("woken", 0.0)]
    assert outcomes(result)[0] == ("SERVICE_DEPLOYMENT_FAILED", True, "answered")
    assert result.status == "rolled_back"
    assert result.path.index(WAIT) < result.path.index("Suspend autoscaling")


def test_the_deadline_passing_rolls_the_run_back(rehearsal: Any) -> None:
    # GIVEN a rollout ECS never completes within HealthDeadlineSeconds 180 (three safety polls)
    with rehearsal(polls_to_complete=50, parameters={"HealthDeadlineSeconds": "180"}) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))
        task_definition = result.service_changes[0]["task_definition"]

    # THEN wake_rollout counted the polls and raised HealthDeadlineExceeded on the third retry,
    # and the run rolled back saying how long it waited
    timeouts = [w for w in health_waits(result) if w[0] == "timeout"]
    assert timeouts == [("timeout", SAFETY_POLL)] * 3
    assert result.status == "rolled_back"
    assert result.path.count(WAIT) == 1
    assert result.path[result.path.index(WAIT) + 1] == "Suspend autoscaling"
    (event,) = result.events
    assert event["DetailType"] == "Deployment Rolled Back"
    detail = event["Detail"]
    assert detail["error"] == "HealthDeadlineExceeded"
    assert detail["cause"] == f"{task_definition} was not healthy after 180 seconds"


def test_a_loop_back_after_a_wake_keeps_counting_the_elapsed_seconds(
    rehearsal: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the service's targets stay in their initial health checks for three looks, with a
    # target group and HealthDeadlineSeconds 120
    looks: list[str] = []
    real_health_for = FakeTargetGroup.health_for

    def health_for(group: FakeTargetGroup, target: dict[str, Any], ec2: Any) -> Any:
        status = real_health_for(group, target, ec2)
        looks.append(target["Id"])
        if len(looks) <= 3:
            status.status = "initial"
        return status

    monkeypatch.setattr(FakeTargetGroup, "health_for", health_for)
    parameters = {"TargetGroupArn": "the service's", "HealthDeadlineSeconds": "120"}
    with rehearsal(parameters=parameters) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN ECS's event woke the first wait at 0 s; each loop back waited a safety poll more,
    # counted on from the last answer (60, then 120), and at 120 the run rolled back
    assert [h["elapsed"] for h in woken(result)] == [0, 60, 120]
    assert [h["woken_by"] for h in woken(result)] == ["event", "safety poll", "safety poll"]
    assert result.path.count("Are the targets healthy?") == 3
    assert "Note the missed deadline" in result.path
    assert result.status == "rolled_back"


def test_a_deployment_replaced_during_the_wait_is_noticed_by_the_safety_poll(
    rehearsal: Any,
) -> None:
    # GIVEN someone else points the service at another revision while the run waits, and ECS's
    # events are lost; HealthDeadlineSeconds 120
    with rehearsal(
        ecs_events_lost=True, polls_to_complete=50, parameters={"HealthDeadlineSeconds": "120"}
    ) as env:
        ecs = boto3.client("ecs", region_name=REGION)
        replaced: list[str] = []

        def someone_else_deploys(_execution: str, _state: str) -> None:
            if not replaced:
                (service,) = ecs.describe_services(cluster="shop-dev", services=["shop-api"])[
                    "services"
                ]
                replaced.append(service["deployments"][1]["taskDefinition"])
                ecs.update_service(
                    cluster="shop-dev", service="shop-api", taskDefinition=replaced[0]
                )

        env.aws.on_token_wait(someone_else_deploys)
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN the first safety poll saw the wait's deployment replaced and answered at once; the
    # look found the newest deployment not the run's, waited again, and at the deadline the
    # run rolled back
    first = woken(result)[0]
    assert first["woken_by"] == "safety poll"
    assert first["settled"].startswith("replaced by ecs-svc/")
    assert result.path.count(WAIT) == 2
    assert result.status == "rolled_back"
    assert result.events[0]["Detail"]["error"] == "HealthDeadlineExceeded"
