"""The rehearsal (healthy, instant ECS) and the cost of one deploy.

Wall time, transitions outside the health polls and per poll (read from the execution history
and the definition that ran), and the list-price cost of one deploy whose rollout takes five
minutes at the configured poll interval, with the INIT phase of every function starting cold.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from pushgate_cli.bench.budgets import MeasurementError, Report
from pushgate_cli.bench.cold_start import median
from pushgate_cli.bench.cost import ROLLOUT_SECONDS, Billed, deploy_cost, polls_for, transitions_for
from pushgate_cli.bench.stack import CONFIG_ENV, StackFunction
from pushgate_cli.bench.table import Row, Section, fmt_ms, fmt_usd


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
    poll_waits: dict[str, float]  # Wait state -> seconds, for the Wait states entered
    invocations: list[Billed]
    definition: dict[str, Any]


def _rehearse_once(polls_to_complete: int, logs: TextIO) -> RehearsedRun:
    from pushgate_cli.rehearse import SCENARIOS, RehearsalConfig, RehearsalEnvironment

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
    waits = result.execution.waits
    return RehearsedRun(
        wall_ms=wall_ms,
        path=result.path,
        retries=sum(1 for w in waits if w.kind == "retry"),
        poll_waits={w.state: w.seconds for w in waits if w.kind == "wait"},
        invocations=invocations,
        definition=json.loads(described["definition"]),
    )


@dataclass(frozen=True)
class PollLoop:
    """The transitions of a healthy run: outside the health polls, per poll, the last poll."""

    wait_state: str
    states: set[str]
    base: int
    per_poll: int
    final_poll: int


def _poll_loop(first: RehearsedRun, two_polls: RehearsedRun, poll_interval: float) -> PollLoop:
    if len(first.poll_waits) != 1:
        raise MeasurementError(f"expected one health-poll Wait state, saw {first.poll_waits}")
    ((wait_state, wait_seconds),) = first.poll_waits.items()
    if wait_seconds != poll_interval:
        raise MeasurementError(
            f"the rehearsal polled every {wait_seconds} s, the configuration says {poll_interval}"
        )
    loop = loop_states(first.definition, wait_state)
    (final_poll,) = poll_lengths(first.path, loop, wait_state)
    lengths = poll_lengths(two_polls.path, loop, wait_state)
    if len(lengths) != 2 or lengths[1] != final_poll:
        raise MeasurementError(
            f"a two-poll rollout polled {lengths}, the last should be {final_poll}"
        )
    base = len(first.path) + first.retries - final_poll
    if transitions_for(base, lengths[0], final_poll, 2) != len(two_polls.path) + two_polls.retries:
        raise MeasurementError("the two-poll run does not add up: transitions per poll unknown")
    return PollLoop(wait_state, loop, base, lengths[0], final_poll)


def measure_rehearsal(
    report: Report,
    repeat: int,
    poll_interval: float,
    init_ms: Mapping[str, float],
    functions: Sequence[StackFunction],
    logs: TextIO,
) -> None:
    """``init_ms``: each function's cold start as Lambda would bill its INIT phase, if known."""
    runs = [_rehearse_once(1, logs) for _ in range(repeat)]
    first = runs[0]
    loop = _poll_loop(first, _rehearse_once(2, logs), poll_interval)
    polls = polls_for(ROLLOUT_SECONDS, poll_interval)
    rollout_transitions = transitions_for(loop.base, loop.per_poll, loop.final_poll, polls)
    costs = [deploy_cost(rollout_transitions, r.invocations) for r in runs]
    cost = sorted(costs, key=lambda c: c.total_usd)[len(costs) // 2]  # the median run's cost
    cold = [Billed(f.memory_mb, init_ms[f.name]) for f in functions if f.name in init_ms]
    init = deploy_cost(0, cold) if len(cold) == len(functions) else None
    wall = median([r.wall_ms for r in runs])
    rows = [
        Row("happy path wall time (waits take no time)", fmt_ms(wall)),
        Row("transitions excluding the health polls", str(loop.base)),
        Row("transitions per health poll", f"{loop.per_poll} (the last poll: {loop.final_poll})"),
        Row(
            f"{ROLLOUT_SECONDS // 60}-minute rollout, polls every {poll_interval:g} s",
            f"{polls} polls, {rollout_transitions} transitions",
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
    report.sections.append(
        Section(
            f"Rehearsal: healthy, instant ECS, {CONFIG_ENV} parameters; cost at list prices",
            rows,
        )
    )
    report.results["rehearsal"] = {
        "wall_ms_median": wall,
        "wall_ms_runs": [r.wall_ms for r in runs],
        "transitions_happy_path": [len(r.path) + r.retries for r in runs],
        "transitions_excluding_health_polls": loop.base,
        "transitions_per_health_poll": loop.per_poll,
        "transitions_last_health_poll": loop.final_poll,
        "health_poll_states": sorted(loop.states),
        "path": first.path,
    }
    report.results["cost"] = {
        "rollout_seconds": ROLLOUT_SECONDS,
        "poll_interval_seconds": poll_interval,
        "config_env": CONFIG_ENV,
        "polls": polls,
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
