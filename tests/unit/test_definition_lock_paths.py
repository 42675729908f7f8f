"""Every way a run can go once the deployment lock is taken passes "Release the deployment lock"
(a rejection too), and the image's scripts are refused before the lock is ever taken. Proved
on the real definition's graph: every Next, Catch, Choice and Default."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pushgate_cli.handlers import REPO_ROOT

pytestmark = pytest.mark.unit

LOCK = "Take the deployment lock"
RELEASE = "Release the deployment lock"
READ = "Read the image's scripts"


def states() -> dict[str, dict[str, Any]]:
    text = (REPO_ROOT / "statemachine" / "deploy.asl.json").read_text()
    found: dict[str, dict[str, Any]] = json.loads(text)["States"]
    return found


def successors(state: dict[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        yield choice["Next"]
    for catch in state.get("Catch", []):
        yield catch["Next"]


def reachable(start: list[str], graph: dict[str, dict[str, Any]], avoid: str) -> set[str]:
    """The states reachable from ``start`` without passing ``avoid``."""
    seen: set[str] = set()
    todo = [s for s in start if s != avoid]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [n for n in successors(graph[name]) if n != avoid and n not in seen]
    return seen


def test_every_path_after_the_lock_releases_it() -> None:
    # GIVEN the definition
    graph = states()
    # WHEN every state reachable once the lock is taken is walked, without the release
    after = reachable(list(successors(graph[LOCK])), graph, avoid=RELEASE)
    ends = {name for name in after if graph[name]["Type"] in ("Succeed", "Fail")}
    # THEN the only end reached without releasing is the superseded push (the lock not taken)
    assert ends == {"Push superseded"}
    # AND no state after the lock skips the release on its way to the outcome
    assert "Describe the outcome" not in after
    # AND the release leads to the outcome, whichever end it is, "Deployment rejected" included
    assert "Deployment rejected" in reachable([RELEASE], graph, avoid="")


def test_the_images_scripts_are_read_before_the_lock_and_a_refusal_never_takes_it() -> None:
    # GIVEN the definition
    graph = states()
    # THEN the push's digest is read into its scripts before the lock is taken, on every way
    # from the pinned digest (the promotion check, when there is one, comes first)
    assert LOCK not in reachable(["Pin the pushed digest"], graph, avoid=READ)
    assert READ in reachable(["Pin the pushed digest"], graph, avoid=LOCK)
    assert graph[READ]["Next"] == LOCK
    assert graph[READ]["Parameters"]["Payload"]["action"] == "read"
    # AND every failure of the read (InvalidImage: a rejection) ends without reaching the lock
    for catch in graph[READ]["Catch"]:
        assert LOCK not in reachable([catch["Next"]], graph, avoid="")
    rejected = [c for c in graph[READ]["Catch"] if c["ErrorEquals"] == ["InvalidImage"]]
    assert [c["ResultPath"] for c in rejected] == ["$.rejection"]


CHECK = "Check database"
DB_RELEASE = "Release the database lock"


def test_every_path_after_the_database_lock_releases_it_before_the_deployment_lock() -> None:
    # GIVEN the definition
    graph = states()
    # WHEN every state reachable once "Check database" took the database lock is walked,
    # without the database lock's release
    after = reachable([graph[CHECK]["Next"]], graph, avoid=DB_RELEASE)
    # THEN none of them reaches the deployment lock's release, nor any end
    assert RELEASE not in after
    assert not [name for name in after if graph[name]["Type"] in ("Succeed", "Fail")]
    # AND the database lock's release (failed or not) goes on to the deployment lock's
    assert set(successors(graph[DB_RELEASE])) == {RELEASE}
    assert graph[DB_RELEASE]["Parameters"]["Payload"]["action"] == "release"
    # AND no state before "Check database" ever reaches it: only a run that took it releases it
    assert DB_RELEASE not in reachable([graph[LOCK]["Next"]], graph, avoid=CHECK)


def test_check_databases_errors_that_took_nothing_skip_the_database_locks_release() -> None:
    # GIVEN "Check database"'s Catch blocks
    *own, last = states()[CHECK]["Catch"]
    # THEN its typed errors, raised before the lock row was written or with its transaction
    # rolled back, go straight to the deployment lock's release; anything else (a Lambda that
    # timed out may have committed) releases the database lock first
    assert [c["Next"] for c in own] == [RELEASE]
    assert set(own[0]["ErrorEquals"]) == {
        "DatabaseNotReady",
        "DatabaseConfigError",
        "DatabaseLockHeld",
        "DatabaseLockTimeout",
        "InvalidRequest",
    }
    assert (last["ErrorEquals"], last["Next"]) == (["States.ALL"], DB_RELEASE)


def test_a_run_waits_for_another_stacks_database_lock_as_for_the_deployment_lock() -> None:
    # GIVEN the two states that wait for a lock
    graph = states()
    waits = {
        name: [
            {key: value for key, value in r.items() if key != "ErrorEquals"}
            for r in graph[name]["Retry"]
            if r["ErrorEquals"] == [held]
        ]
        for name, held in ((LOCK, "DeploymentLockHeld"), (CHECK, "DatabaseLockHeld"))
    }
    assert waits[LOCK]
    # THEN both ask again every minute, for longer than the lock wait (the Lambda then says
    # DeploymentLockTimeout or DatabaseLockTimeout), counted from the same execution start
    assert waits[CHECK] == waits[LOCK]
    claim = graph[CHECK]["Parameters"]["Payload"]["database_lock"]
    taking = graph[LOCK]["Parameters"]["Payload"]
    assert claim["wait_seconds.$"] == taking["lock_wait_seconds.$"]
    assert claim["started_at.$"] == taking["started_at.$"] == "$$.Execution.StartTime"
    assert claim["owner.$"] == taking["owner.$"] == "$$.Execution.Id"
