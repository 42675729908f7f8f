"""pushgate's own overhead per deploy: what it adds beyond the migration's SQL and ECS's rollout.

The INIT of the functions the healthy rehearsal invoked (each starting cold, as measured; a
function the run did not invoke, such as await_snapshot at DatabaseSnapshot=never, adds none),
their run time in the healthy rehearsal as measured (run_migrations' less the runner's own
``duration_ms``: its connection, lock and SQL), and the expected lag between ECS settling the
rollout and the state machine noticing: the event's delivery when it wakes the wait, half an
interval when polling. A snapshot and ECS's own rollout are not pushgate's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

# ECS -> EventBridge -> Lambda -> SendTaskSuccess. AWS documents no latency figure for this path:
# EventBridge says it delivers "in near real-time" (https://aws.amazon.com/eventbridge/faqs/) and
# ECS sends its events "on a best effort basis". ASSUMED, not documented and not measured here.
EVENT_DELIVERY_S: Final = 1.0
EVENT_DELIVERY_SOURCE: Final = (
    "assumed 1 s: EventBridge documents 'near real-time' delivery, no figure "
    "(https://aws.amazon.com/eventbridge/faqs/)"
)


class MissingColdStart(LookupError):
    """A function the run invoked has no INIT measured: no overhead can be told."""


@dataclass(frozen=True)
class Overhead:
    init_ms: float
    run_ms: float
    lag_ms: float
    counted: tuple[str, ...]  # the functions whose INIT is counted: those the run invoked

    @property
    def total_ms(self) -> float:
        return self.init_ms + self.run_ms + self.lag_ms


def polling_lag_s(interval_s: float) -> float:
    """A rollout ends uniformly within a poll interval: noticed half an interval later."""
    return interval_s / 2


def overhead(
    init_ms: Mapping[str, float],
    runs_ms: Sequence[tuple[str, float]],
    migration_ms: float,
    lag_s: float,
) -> Overhead:
    """``init_ms``: each measured function's INIT; ``runs_ms``: (function, duration) of every
    invocation of the run, whose functions' INIT (once each) is counted; ``migration_ms``: the
    runner's own duration, left out of run_migrations'. MissingColdStart when a function the
    run invoked has no INIT in ``init_ms``."""
    invoked = tuple(sorted({name for name, _ in runs_ms}))
    missing = [name for name in invoked if name not in init_ms]
    if missing:
        raise MissingColdStart(f"no cold start measured for {', '.join(missing)}")
    run = sum(ms for _, ms in runs_ms) - migration_ms
    return Overhead(
        init_ms=sum(init_ms[name] for name in invoked),
        run_ms=max(0.0, run),
        lag_ms=lag_s * 1000,
        counted=invoked,
    )
