"""What a request will do, before anything runs: the :class:`Plan` (direction, steps, the
revision it ends at), each pending revision as the contract reports it, and the SQL of a plan
(alembic's offline mode in pushgate's environment: no database needed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alembic.runtime.migration import MigrationContext, RevisionStep

from pushgate.errors import InvalidRequest
from pushgate.migrator import environment
from pushgate.migrator.request import Action, Direction, PendingRevision
from pushgate.migrator.scripts import RevisionGraph, Target
from pushgate.versiontable import VersionTable


@dataclass(frozen=True)
class Plan:
    """The steps from ``from_revision`` to ``to_revision``, in the order they run."""

    direction: Direction
    destination: str  # alembic's name of the destination ("base", an id, "+N", "-N")
    steps: tuple[RevisionStep, ...]
    from_revision: str | None
    to_revision: str | None

    @property
    def revisions(self) -> list[str]:
        """The ids of the revisions the plan runs (upgraded or downgraded), in order."""
        return [step.revision.revision for step in self.steps]


def make_plan(graph: RevisionGraph, action: Action, target: Target, current: str | None) -> Plan:
    """The plan from ``current`` to ``target``. InvalidRequest when ``target`` is the other way
    than ``action`` (an upgrade to a lower revision), or unreachable, or when a file that must
    run imports what the function does not ship (the files that run are imported here, only
    they, before anything runs)."""
    direction = graph.direction(current, target)
    if action != "plan" and direction != action:
        raise InvalidRequest(
            f"{target.destination} is {'below' if direction == 'downgrade' else 'above'} the "
            f"current revision {current or 'base'}: that is a {direction}, not an {action}"
        )
    pending = graph.pending(direction, target.destination, current)
    steps = tuple(graph.steps(direction, pending))
    if not steps:
        to_revision = current
    elif direction == "upgrade":
        to_revision = steps[-1].revision.revision
    else:
        to_revision = ",".join(steps[-1].to_revisions) or None
    return Plan(direction, target.destination, steps, current, to_revision)


def pending_revision(graph: RevisionGraph, step: RevisionStep) -> PendingRevision:
    """A step as the plan's ``pending`` list reports it."""
    script = graph.get(step.revision.revision)
    down = script.down_revision
    return PendingRevision(
        revision=script.revision,
        down_revision=down if isinstance(down, str) or down is None else ",".join(down),
        description=script.doc,
        downgradable=graph.downgradable(script),
    )


def offline_sql(graph: RevisionGraph, plan: Plan, table: VersionTable) -> str:
    """The SQL the plan would run (alembic's offline mode)."""
    if not plan.steps:
        return ""

    def steps(rev: Any, context: MigrationContext) -> list[RevisionStep]:
        return list(plan.steps)

    return environment.offline_sql(graph, table, steps, plan.from_revision, plan.destination)
