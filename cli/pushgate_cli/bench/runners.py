"""Both runners' cost per deploy: the healthy rehearsal with the Lambda runner and with the task
runner (its command really run), at list prices, plus the one-off Fargate task's seconds.

The emulated task runs the command on this machine, so its run time is measured; Fargate's start
latency (provisioning, image pull) is not: it is a stated figure, marked as such in the table.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Final, TextIO

from pushgate_cli.bench.budgets import MeasurementError, Report
from pushgate_cli.bench.cost import Billed, deploy_cost
from pushgate_cli.bench.stack import CONFIG_ENV
from pushgate_cli.bench.table import Row, Section, fmt_usd
from pushgate_cli.scenarios import SCENARIOS

# Fargate Linux/x86, us-east-1, list price (https://aws.amazon.com/fargate/pricing/); billed
# per second with a one-minute minimum, for the task definition's vCPU and memory
FARGATE_PER_VCPU_HOUR: Final = 0.04048
FARGATE_PER_GB_HOUR: Final = 0.004445
FARGATE_MINIMUM_SECONDS: Final = 60
# NOT a measurement: the time from RunTask to a RUNNING container that this estimate assumes for
# a small image on Fargate (provisioning, ENI attachment, image pull); real figures vary with the
# image's size and the region, and are billed from the pull's start.
FARGATE_START_SECONDS_ASSUMED: Final = 40.0
WATCH_POLL_SECONDS: Final = 10  # "Watch the migration task"'s retry interval


@dataclass(frozen=True)
class RunnerRun:
    transitions: int
    invocations: list[Billed]
    task_seconds: float  # the migration commands' own run time (measured here)
    vcpu: float
    memory_gb: float


def fargate_usd(seconds: float, vcpu: float, memory_gb: float) -> float:
    """One task's list price: per second, at least a minute."""
    billed = max(FARGATE_MINIMUM_SECONDS, math.ceil(seconds))
    return billed / 3600 * (vcpu * FARGATE_PER_VCPU_HOUR + memory_gb * FARGATE_PER_GB_HOUR)


def _rehearse(runner: str, logs: TextIO) -> RunnerRun:
    import boto3

    from pushgate_cli.rehearse import REGION, RehearsalConfig, RehearsalEnvironment

    config = RehearsalConfig(scenario=SCENARIOS["healthy"], runner=runner, config_env=CONFIG_ENV)
    with contextlib.redirect_stdout(logs), RehearsalEnvironment(config) as env:
        result = env.execute(env.push_event("bench"))
        if not result.ok:
            raise MeasurementError(f"the {runner} runner's rehearsal ended {result.status}")
        runs = env.tasks.runs if env.tasks is not None else []
        # the watch's invocations block while the emulated task's time passes: not billed time
        waited_ms = env.tasks.waited_seconds * 1000 if env.tasks is not None else 0.0
        invocations = []
        for i in env.invocations:
            if i.function == "migration_task" and waited_ms > 0:
                taken = min(waited_ms, i.duration_ms)
                waited_ms -= taken
                invocations.append(Billed(i.memory_mb, i.duration_ms - taken))
            else:
                invocations.append(Billed(i.memory_mb, i.duration_ms))
        definition = boto3.client("ecs", region_name=REGION).describe_task_definition(
            taskDefinition=result.service.task_definition
        )["taskDefinition"]
        return RunnerRun(
            transitions=len(result.path)
            + sum(1 for w in result.execution.waits if w.kind == "retry"),
            invocations=invocations,
            task_seconds=sum(r.seconds for r in runs),
            vcpu=int(definition["cpu"]) / 1024,
            memory_gb=int(definition["memory"]) / 1024,
        )


def measure_runners(report: Report, logs: TextIO) -> None:
    rows: list[Row] = []
    results: dict[str, object] = {}
    for runner in ("lambda", "task"):
        run = _rehearse(runner, logs)
        cost = deploy_cost(run.transitions, run.invocations)
        task_usd = (
            fargate_usd(FARGATE_START_SECONDS_ASSUMED + run.task_seconds, run.vcpu, run.memory_gb)
            if runner == "task"
            else 0.0
        )
        rows.append(
            Row(
                f"{runner} runner: {run.transitions} transitions, {cost.gb_seconds:.4f} GB-s",
                fmt_usd(cost.total_usd + task_usd),
            )
        )
        if runner == "task":
            rows += [
                Row(
                    f"  Fargate task ({run.vcpu:g} vCPU, {run.memory_gb:g} GB): command "
                    f"{run.task_seconds:.1f} s measured + {FARGATE_START_SECONDS_ASSUMED:g} s "
                    "start ASSUMED, 60 s minimum",
                    fmt_usd(task_usd),
                ),
                Row(
                    "  Fargate start latency (a stated figure, NOT measured)",
                    f"{FARGATE_START_SECONDS_ASSUMED:g} s",
                ),
                Row(
                    "  + watch polls while it starts (not rehearsed), a transition each",
                    f"about {FARGATE_START_SECONDS_ASSUMED / WATCH_POLL_SECONDS:g}",
                ),
            ]
        results[runner] = {
            "transitions": run.transitions,
            "lambda_gb_seconds": cost.gb_seconds,
            "step_functions_and_lambda_usd": cost.total_usd,
            "task_seconds_measured": run.task_seconds,
            "fargate_start_seconds_assumed": FARGATE_START_SECONDS_ASSUMED,
            "fargate_usd": task_usd,
        }
    report.results["runners"] = results
    report.sections.append(
        Section(f"Both runners, healthy rehearsal, {CONFIG_ENV} parameters; list prices", rows)
    )
