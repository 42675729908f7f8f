"""The rehearsal (healthy, woken by ECS's event) and the cost of one deploy.

Wall time, transitions outside the health wait and per safety poll (read from the execution
history and the definition that ran), the list-price cost of one deploy whose rollout takes
five minutes at the configured safety poll (it times out until ECS's event wakes the last
wait), with the INIT phase of every function starting cold, and pushgate's own overhead
(:mod:`pushgate_cli.bench.overhead`).

A safety poll that times out is a Retry of "Wait for ECS to say so" (one transition, counted
from the run's retry waits of that state), not a way round the loop: the loop's states are
entered once per look at the rollout (the woken wait's, or a loop back when the targets are
not healthy yet).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from pushgate_cli.bench.budgets import (
    OWN_OVERHEAD_MS,
    ROLLOUT_TRANSITIONS,
    MeasurementError,
    Report,
)
from pushgate_cli.bench.cold_start import median
from pushgate_cli.bench.cost import ROLLOUT_SECONDS, Billed, deploy_cost, polls_for, transitions_for
from pushgate_cli.bench.overhead import (
    EVENT_DELIVERY_S,
    EVENT_DELIVERY_SOURCE,
    MissingColdStart,
    overhead,
    polling_lag_s,
)
from pushgate_cli.bench.stack import CONFIG_ENV, StackFunction
from pushgate_cli.bench.table import Row, Section, fmt_ms, fmt_usd
from pushgate_cli.scenarios import SCENARIOS


# --- the health-poll loop, from the definition and the path ----------------------------------
def successors(state: Mapping[str, Any]) -> set[str]:
    """The states an ASL state can go to next (Next, Default, Choices, Catch)."""
    found = {str(state[key]) for key in ("Next", "Default") if key in state}
    found |= {str(rule["Next"]) for rule in state.get("Choices", []) if "Next" in rule}
    found |= {str(catch["Next"]) for catch in state.get("Catch", []) if "Next" in catch}
    return found


def _reachable(origin: str, edges: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [origin]
    while todo:
        for nxt in edges.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def loop_states(definition: Mapping[str, Any], start: str) -> set[str]:
    """The states of the loop through ``start``: reachable from it and leading back to it."""
    states: Mapping[str, Any] = definition["States"]
    if start not in states:
        raise KeyError(f"no state {start!r} in the definition")
    graph = {name: successors(spec) for name, spec in states.items()}
    reverse: dict[str, set[str]] = {}
    for name, nexts in graph.items():
        for nxt in nexts:
            reverse.setdefault(nxt, set()).add(name)
    return (_reachable(start, graph) | {start}) & (_reachable(start, reverse) | {start})


def poll_lengths(path: Sequence[str], loop: set[str], start: str) -> list[int]:
    """How many states each health poll entered: the path's loop states, split where ``start``
    (the poll's Wait) is entered."""
    lengths: list[int] = []
    for name in path:
        if name == start:
            lengths.append(1)
        elif name in loop and lengths:
            lengths[-1] += 1
    return lengths


# --- the rehearsed runs ----------------------------------------------------------------------
@dataclass(frozen=True)
class RehearsedRun:
    wall_ms: float
    path: list[str]
    retries: int
    wait_retries: dict[str, int]  # retry waits (States.Timeout, Lambda's errors) per state
    token_waits: list[tuple[str, str, float]]  # (state, woken|timeout, seconds) of the health wait
    invocations: list[Billed]
    runs_ms: list[tuple[str, float]]  # (function, duration) of every invocation
    migration_ms: float  # the runner's own duration_ms (connection, lock, SQL)
    definition: dict[str, Any]


def _rehearse_once(polls_to_complete: int, logs: TextIO) -> RehearsedRun:
    from pushgate_cli.rehearse import RehearsalConfig, RehearsalEnvironment

    config = RehearsalConfig(
        scenario=SCENARIOS["healthy"], polls_to_complete=polls_to_complete, config_env=CONFIG_ENV
    )
    with contextlib.redirect_stdout(logs), RehearsalEnvironment(config) as env:
        event = env.push_event("bench")
        started = time.perf_counter()
        result = env.execute(event)
        wall_ms = (time.perf_counter() - started) * 1000
        if not result.ok:
            raise MeasurementError(
                f"the healthy rehearsal ended {result.status}: {result.execution.error}"
            )
        described = env.aws.client("stepfunctions").describe_state_machine(
            stateMachineArn=env.state_machine_arn
        )
        invocations = [Billed(i.memory_mb, i.duration_ms) for i in env.invocations]
        runs_ms = [(i.function, i.duration_ms) for i in env.invocations]
    waits = result.execution.waits
    output = result.execution.output if isinstance(result.execution.output, dict) else {}
    migration = output.get("migration") or {}
    return RehearsedRun(
        wall_ms=wall_ms,
        path=result.path,
        retries=sum(1 for w in waits if w.kind == "retry"),
        wait_retries={
            state: sum(1 for w in waits if w.kind == "retry" and w.state == state)
            for state in {w.state for w in waits}
        },
        token_waits=[(w.state, w.kind, w.seconds) for w in waits if w.kind in ("woken", "timeout")],
        invocations=invocations,
        runs_ms=runs_ms,
        migration_ms=float(migration.get("duration_ms") or 0.0),
        definition=json.loads(described["definition"]),
    )


@dataclass(frozen=True)
class PollLoop:
    """The transitions of a healthy run: outside the health wait, per safety poll that times
    out (its Retry), and the last wait (woken by ECS's event) with the look that follows."""

    wait_state: str
    states: set[str]
    base: int
    per_poll: int
    final_poll: int


def _poll_loop(first: RehearsedRun, two_polls: RehearsedRun, safety_poll: float) -> PollLoop:
    if [kind for _, kind, _ in first.token_waits] != ["woken"]:
        raise MeasurementError(
            f"the healthy rehearsal was not woken by ECS's event: {first.token_waits}"
        )
    ((wait_state, _kind, _seconds),) = first.token_waits
    timeouts = [seconds for _, kind, seconds in two_polls.token_waits if kind == "timeout"]
    if timeouts != [safety_poll] or two_polls.token_waits[-1][1] != "woken":
        raise MeasurementError(
            f"a two-wait rollout waited {two_polls.token_waits}, SafetyPollSeconds is "
            f"{safety_poll}: one timeout, then woken, expected"
        )
    loop = loop_states(first.definition, wait_state)
    (final_poll,) = poll_lengths(first.path, loop, wait_state)
    lengths = poll_lengths(two_polls.path, loop, wait_state)
    if lengths != [final_poll]:
        raise MeasurementError(
            f"a two-wait rollout went round the loop {lengths}, once ({final_poll}) expected"
        )
    per_poll = two_polls.wait_retries.get(wait_state, 0) - first.wait_retries.get(wait_state, 0)
    base = len(first.path) + first.retries - final_poll
    if per_poll < 1 or (
        transitions_for(base, per_poll, final_poll, 2) != len(two_polls.path) + two_polls.retries
    ):
        raise MeasurementError("the two-wait run does not add up: transitions per poll unknown")
    return PollLoop(wait_state, loop, base, per_poll, final_poll)


def measure_rehearsal(
    report: Report,
    repeat: int,
    safety_poll: float,
    init_ms: Mapping[str, float],
    functions: Sequence[StackFunction],
    logs: TextIO,
) -> None:
    """``init_ms``: each function's cold start as Lambda would bill its INIT phase, if known."""
    runs = [_rehearse_once(1, logs) for _ in range(repeat)]  # woken at the first wait
    first = runs[0]
    # ECS moves on a step per wait and per look: the first wait times out, its retry's look
    # sees IN_PROGRESS, and the event wakes the second
    loop = _poll_loop(first, _rehearse_once(3, logs), safety_poll)
    polls = polls_for(ROLLOUT_SECONDS, safety_poll)
    rollout_transitions = transitions_for(loop.base, loop.per_poll, loop.final_poll, polls)
    costs = [deploy_cost(rollout_transitions, r.invocations) for r in runs]
    cost = sorted(costs, key=lambda c: c.total_usd)[len(costs) // 2]  # the median run's cost
    cold = [Billed(f.memory_mb, init_ms[f.name]) for f in functions if f.name in init_ms]
    init = deploy_cost(0, cold) if len(cold) == len(functions) else None
    wall = median([r.wall_ms for r in runs])
    text, verdict = report.budget(
        "rehearsal.rollout_transitions",
        rollout_transitions,
        ROLLOUT_TRANSITIONS,
        "transitions",
        f"<= {ROLLOUT_TRANSITIONS} transitions",
    )
    rows = [
        Row("happy path wall time (waits take no time)", fmt_ms(wall)),
        Row("transitions excluding the health wait", str(loop.base)),
        Row(
            "transitions per safety poll that times out (the wait's Retry)",
            f"{loop.per_poll} (the wait ECS's event ends, and the look: {loop.final_poll})",
        ),
        Row(
            f"{ROLLOUT_SECONDS // 60}-minute rollout, woken by ECS, safety poll {safety_poll:g} s",
            f"{polls} waits, {rollout_transitions} transitions",
            text,
            verdict,
        ),
        Row("cost of one deploy", fmt_usd(cost.total_usd)),
        Row(f"  Step Functions: {cost.transitions} transitions", fmt_usd(cost.step_functions_usd)),
        Row(
            f"  Lambda: {cost.gb_seconds:.4f} GB-s, {cost.requests} requests",
            fmt_usd(cost.lambda_duration_usd + cost.lambda_requests_usd),
        ),
    ]
    if init is not None:
        rows.append(
            Row(
                f"  + INIT if all {len(functions)} start cold: {init.gb_seconds:.4f} GB-s",
                fmt_usd(init.lambda_duration_usd),
            )
        )
    rows += _overhead_rows(report, runs, init_ms, functions, safety_poll)
    report.sections.append(
        Section(
            f"Rehearsal: healthy, woken by ECS's event, {CONFIG_ENV} parameters; "
            "cost at list prices",
            rows,
        )
    )
    report.results["rehearsal"] = {
        "wall_ms_median": wall,
        "wall_ms_runs": [r.wall_ms for r in runs],
        "transitions_happy_path": [len(r.path) + r.retries for r in runs],
        "transitions_excluding_health_wait": loop.base,
        "transitions_per_safety_poll": loop.per_poll,
        "transitions_last_wait": loop.final_poll,
        "health_wait_states": sorted(loop.states),
        "woken": first.token_waits,
        "path": first.path,
    }
    report.results["cost"] = {
        "rollout_seconds": ROLLOUT_SECONDS,
        "safety_poll_seconds": safety_poll,
        "config_env": CONFIG_ENV,
        "waits": polls,
        "transitions": rollout_transitions,
        "lambda_gb_seconds": cost.gb_seconds,
        "lambda_requests": cost.requests,
        "step_functions_usd": cost.step_functions_usd,
        "lambda_duration_usd": cost.lambda_duration_usd,
        "lambda_requests_usd": cost.lambda_requests_usd,
        "total_usd": cost.total_usd,
        "init_if_all_cold_gb_seconds": init.gb_seconds if init is not None else None,
        "init_if_all_cold_usd": init.lambda_duration_usd if init is not None else None,
        "invocations": [asdict(i) for i in first.invocations],
    }


def _overhead_rows(
    report: Report,
    runs: Sequence[RehearsedRun],
    init_ms: Mapping[str, float],
    functions: Sequence[StackFunction],
    safety_poll: float,
) -> list[Row]:
    try:
        measured = [overhead(init_ms, r.runs_ms, r.migration_ms, EVENT_DELIVERY_S) for r in runs]
    except MissingColdStart as exc:
        raise MeasurementError(f"{exc}: no overhead") from exc
    own = sorted(measured, key=lambda o: o.total_ms)[len(measured) // 2]
    left_out = sorted(f.name for f in functions if f.name not in own.counted)
    text, verdict = report.budget(
        "rehearsal.own_overhead_ms",
        own.total_ms,
        OWN_OVERHEAD_MS,
        "ms",
        f"<= {OWN_OVERHEAD_MS / 1000:g} s",
    )
    report.results["own_overhead"] = {
        **asdict(own),
        "counted": list(own.counted),
        "not_invoked": left_out,
        "total_ms": own.total_ms,
        "event_delivery": EVENT_DELIVERY_SOURCE,
        "polling_lag_ms_at_safety_poll": polling_lag_s(safety_poll) * 1000,
    }
    return [
        Row("pushgate's own overhead per deploy", fmt_ms(own.total_ms), text, verdict),
        Row(
            f"  INIT of the {len(own.counted)} functions invoked, cold (as measured)",
            fmt_ms(own.init_ms),
        ),
        Row("    counted (the run invoked them)", ", ".join(own.counted)),
        Row("    not invoked, not counted", ", ".join(left_out) or "none"),
        Row("  run time (run_migrations' less the runner's own)", fmt_ms(own.run_ms)),
        Row("  ECS's event to the wake (assumed)", fmt_ms(own.lag_ms)),
        Row(
            f"  polling instead: half of {safety_poll:g} s",
            fmt_ms(polling_lag_s(safety_poll) * 1000),
        ),
    ]
