"""Plans over the bundled revision chain: the steps alembic's public API yields (no database)."""

from __future__ import annotations

import pytest
from pushgate.errors import InvalidRequest
from pushgate.migrator.plan import make_plan
from pushgate.migrator.request import Action
from pushgate.migrator.scripts import Relative, Revision, RevisionGraph, Target

from tests.helpers import CHAIN, HEAD, MIGRATIONS

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def graph() -> RevisionGraph:
    return RevisionGraph(MIGRATIONS)


@pytest.mark.parametrize(
    ("action", "target", "current", "runs", "ends_at"),
    [
        pytest.param("upgrade", Revision(HEAD), None, CHAIN, HEAD, id="base-to-head"),
        pytest.param("upgrade", Relative("+1"), CHAIN[0], [CHAIN[1]], CHAIN[1], id="plus-one"),
        pytest.param("downgrade", Relative("-1"), HEAD, [HEAD], CHAIN[1], id="minus-one"),
        pytest.param(
            "downgrade", Revision(None), HEAD, list(reversed(CHAIN)), None, id="head-to-base"
        ),
        pytest.param("plan", Revision(CHAIN[0]), HEAD, [CHAIN[2], CHAIN[1]], CHAIN[0], id="plan"),
    ],
)
def test_a_plan_runs_the_revisions_between_current_and_target_in_order(
    graph: RevisionGraph,
    action: Action,
    target: Target,
    current: str | None,
    runs: list[str],
    ends_at: str | None,
) -> None:
    """GIVEN the bundled chain WHEN a plan is made THEN it runs exactly the revisions between
    the current revision and the target, in the order they run, and says where it ends."""
    plan = make_plan(graph, action, target, current)

    assert (plan.revisions, plan.from_revision, plan.to_revision) == (runs, current, ends_at)


@pytest.mark.parametrize(
    ("action", "target", "current"),
    [
        pytest.param("upgrade", Revision(CHAIN[0]), HEAD, id="upgrade-to-below"),
        pytest.param("downgrade", Revision(HEAD), CHAIN[0], id="downgrade-to-above"),
        pytest.param("downgrade", Relative("-5"), HEAD, id="below-base"),
        pytest.param("upgrade", Relative("+2"), CHAIN[1], id="above-head"),
    ],
)
def test_an_impossible_plan_is_an_invalid_request(
    graph: RevisionGraph, action: Action, target: Target, current: str | None
) -> None:
    with pytest.raises(InvalidRequest):
        make_plan(graph, action, target, current)


def test_targets_resolve_to_revisions_or_relative_steps(graph: RevisionGraph) -> None:
    """GIVEN the names a request may use WHEN resolved THEN head and a prefix are revisions,
    base is none, and +N/-N stay relative."""
    assert graph.resolve("head") == Revision(HEAD)
    assert graph.resolve(CHAIN[1][:6]) == Revision(CHAIN[1])
    assert graph.resolve("base") == Revision(None)
    assert graph.resolve("-2") == Relative("-2")
    with pytest.raises(InvalidRequest):
        graph.resolve("ffffffffffff")
