"""Cold starts as Lambda pays them: each handler imported on python3.13 from the built layer.

The layer is built by its own Makefile for this machine (``host-layer``: the same pins, trace
and byte code as ``sam build``, host wheels), read-only, and each function's process starts as
Lambda's python3.13 starts it (:mod:`pushgate_cli.lambda_python`: the function's code, the
layer, the runtime's boto3; no site-packages, no writable cache; the environment Lambda and the
template give that function). Two variants of the same layer, interleaved so drift on the
machine hits both alike: "as built" (with its byte code) and "without byte code" (the same
files, byte code removed: what every cold start paid before). Beside them the bare
interpreter's start and ``import alembic`` from the same layer with byte code, on the same
interpreter in the same run (run_migrations' budget is relative to it), and each budget's floor:
the packages the stack is built on (pg8000, Powertools' Logger, alembic, the runtime's botocore
and one client), imported as the handlers use them and with nothing of pushgate's, so a line
shows how much of its figure is pushgate's own and whether its budget is reachable at all on
this machine.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from pushgate_cli.bench.budgets import (
    CHECK_DATABASE_COLD_START_MS,
    PREPARE_ROLLOUT_COLD_START_MS,
    RUN_MIGRATIONS_VS_ALEMBIC,
    MeasurementError,
    Report,
)
from pushgate_cli.bench.stack import CONFIG_ENV, StackFunction
from pushgate_cli.bench.table import Row, Section, Verdict, fmt_ms

AS_BUILT: Final = "as built"
NO_BYTE_CODE: Final = "without byte code"
BARE: Final = "bare interpreter"
ALEMBIC: Final = "import alembic"
HEAVY: Final[tuple[str, ...]] = ("alembic", "sqlalchemy")  # what check_database must not import


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class ColdStartBudget:
    """A function's cold-start budget: milliseconds, or a ratio to ``import alembic``."""

    kind: str  # "ms" or "x import alembic"
    limit: float
    like: str  # the function whose budget this is


BUDGETS: Final = {
    "check_database": ColdStartBudget("ms", CHECK_DATABASE_COLD_START_MS, "check_database"),
    "run_migrations": ColdStartBudget(
        "x import alembic", RUN_MIGRATIONS_VS_ALEMBIC, "run_migrations"
    ),
    "prepare_rollout": ColdStartBudget("ms", PREPARE_ROLLOUT_COLD_START_MS, "prepare_rollout"),
}


def budget_for(name: str, modules: Sequence[str]) -> ColdStartBudget:
    """The function's own budget, or the closest one's by what its cold start loads: alembic
    (run_migrations'), an AWS SDK client (prepare_rollout's), else neither (check_database's).
    A client is botocore's ``botocore.client`` (the handlers make theirs with botocore's session,
    pushgate.aws, without boto3); Powertools imports the ``botocore`` package alone everywhere."""
    if name in BUDGETS:
        return BUDGETS[name]
    loaded = set(modules)
    if "alembic" in loaded:
        return BUDGETS["run_migrations"]
    if {"boto3", "botocore.client", "aws_xray_sdk"} & loaded:
        return BUDGETS["prepare_rollout"]
    return BUDGETS["check_database"]


# A budget's floor: what the budget's own function must load, as its handler uses it, and
# nothing of pushgate's (the brief's stack: pg8000 and Powertools' Logger for the database
# check, alembic and SQLAlchemy's pg8000 dialect for the migration, the runtime's botocore and
# one client for the rollout). A function judged by another's budget may load less
# (describe_push opens no database connection, migration_task makes no client at cold start).
# Each floor is a module of its own, timed like a handler.
FLOORS: Final[dict[str, tuple[str, str]]] = {
    "check_database": (
        "pg8000, Powertools' Logger",
        "import pg8000.native\nfrom aws_lambda_powertools import Logger\nLogger()\n",
    ),
    "run_migrations": (
        "alembic, SQLAlchemy's pg8000 dialect, pg8000, Powertools' Logger",
        "import alembic\nimport sqlalchemy.dialects.postgresql.pg8000\nimport pg8000.native\n"
        "from aws_lambda_powertools import Logger\nLogger()\n",
    ),
    "prepare_rollout": (
        "botocore and one client (ECS), Powertools' Logger",
        "from botocore.session import Session\nfrom aws_lambda_powertools import Logger\n"
        "Logger()\nSession().create_client('ecs')\n",
    ),
}
FLOOR_MODULE: Final = "floor"


def floor_label(name: str) -> str:
    return f"floor of {name}'s budget"


def write_floors(directory: Path) -> dict[str, Path]:
    """Each floor as ``<directory>/<budget>/floor.py``: the directory to start it from."""
    found = {}
    for name, (_, source) in FLOORS.items():
        (directory / name).mkdir(parents=True)
        (directory / name / f"{FLOOR_MODULE}.py").write_text(source)
        found[name] = directory / name
    return found


def without_byte_code(layer: Path, directory: Path) -> Path:
    """A copy of the layer's python/ with every ``__pycache__`` left out."""
    copy = directory / "python"
    shutil.copytree(layer, copy, ignore=shutil.ignore_patterns("__pycache__"), symlinks=True)
    return copy


def _budget_row(
    report: Report, function: StackFunction, import_ms: float, alembic_ms: float, modules: list[str]
) -> Row:
    budget = budget_for(function.name, modules)
    borrowed = "" if budget.like == function.name else f" (as {budget.like})"
    value = f"import {fmt_ms(import_ms)}"
    if budget.kind == "ms":
        text, verdict = report.budget(
            f"cold_start.{function.name}_ms",
            import_ms,
            budget.limit,
            "ms",
            f"<= {budget.limit:.0f} ms{borrowed}",
        )
        return Row(f"{function.name} {AS_BUILT}", value, text, verdict)
    ratio = import_ms / alembic_ms
    text, verdict = report.budget(
        f"cold_start.{function.name}_vs_import_alembic",
        ratio,
        budget.limit,
        "ratio",
        f"<= {budget.limit} x import alembic{borrowed}",
    )
    return Row(f"{function.name} {AS_BUILT}", f"{value} = {ratio:.2f} x", text, verdict)


def _floor_row(name: str, floor_ms: float, alembic_ms: float) -> Row:
    what = FLOORS[name][0]
    budget = BUDGETS[name]
    if budget.kind == "ms":
        value = f"import {fmt_ms(floor_ms)} ({floor_ms / budget.limit:.2f} x the budget)"
    else:
        value = f"import {fmt_ms(floor_ms)} = {floor_ms / alembic_ms:.2f} x import alembic"
    return Row(f"  floor: {what}", value)


def _run_probes(
    probes: Sequence[tuple[str, Any, Path, str, Mapping[str, str]]], repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[str]]]:
    """Start every probe ``repeat`` times (after one warm-up round): import and process
    milliseconds by label, and the modules each loaded."""
    from pushgate_cli.lambda_python import LambdaPythonError

    imports: dict[str, list[float]] = {label: [] for label, *_ in probes}
    processes: dict[str, list[float]] = {label: [] for label, *_ in probes}
    modules: dict[str, list[str]] = {}
    for round_ in range(repeat + 1):  # round 0 warms the page cache: not counted
        for label, python, directory, module, env in probes:
            try:
                started = python.run(directory, env, module=module)
            except LambdaPythonError as exc:
                raise MeasurementError(str(exc)) from exc
            if started.cold_start_errors:
                raise MeasurementError(
                    f"{label} kept errors at cold start: {', '.join(started.cold_start_errors)}"
                )
            if round_:
                imports[label].append(started.import_ms)
                processes[label].append(started.process_ms)
                modules[label] = started.modules
    return imports, processes, modules


def measure_cold_starts(
    report: Report,
    repeat: int,
    functions: Sequence[StackFunction],
    environments: Mapping[str, Mapping[str, str]],
) -> None:
    """``environments``: each function's own template environment, by handler name."""
    from pushgate_cli.handlers import function_dir
    from pushgate_cli.lambda_python import (
        LambdaPythonError,
        build_host_layer,
        find_python313,
        lambda_environment,
    )

    python313 = find_python313()
    if python313 is None:
        raise MeasurementError("no CPython 3.13 (python3.13 on PATH, or pyenv's 3.13.0)")
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-layer-") as scratch:
        try:
            built = build_host_layer(Path(scratch) / "built", python313)
        except LambdaPythonError as exc:
            raise MeasurementError(str(exc)) from exc
        bare_layer = without_byte_code(built.layer, Path(scratch))
        variants = {AS_BUILT: built, NO_BYTE_CODE: replace(built, layer=bare_layer)}
        # (label, python, function directory, module, environment)
        probes = []
        first = functions[0]
        base_env = lambda_environment(first.name, function_dir(first.name), first.memory_mb, {})
        probes.append((BARE, built, function_dir(first.name), "os", base_env))
        probes.append((ALEMBIC, built, function_dir(first.name), "alembic", base_env))
        for name, directory in write_floors(Path(scratch) / "floors").items():
            probes.append((floor_label(name), built, directory, FLOOR_MODULE, base_env))
        for function in functions:
            directory = function_dir(function.name)
            env = lambda_environment(
                function.name, directory, function.memory_mb, environments[function.name]
            )
            for variant, python in variants.items():
                probes.append((f"{function.name} {variant}", python, directory, "app", env))
        imports, processes, modules = _run_probes(probes, repeat)
    med = {label: median(values) for label, values in imports.items()}
    med_process = {label: median(values) for label, values in processes.items()}
    alembic = med[ALEMBIC]
    rows = [
        Row("python3.13 -S -c pass (the interpreter's start)", fmt_ms(med_process[BARE])),
        Row(f"{ALEMBIC}, with the layer's byte code", fmt_ms(alembic)),
    ]
    for function in functions:
        built_label, bare_label = f"{function.name} {AS_BUILT}", f"{function.name} {NO_BYTE_CODE}"
        loaded = modules[built_label]
        row = _budget_row(report, function, med[built_label], alembic, loaded)
        shown = row.label
        if function.config_env != CONFIG_ENV:  # not in dev's stack: measured with another's
            shown += f" ({function.config_env}'s parameters)"
        rows.append(
            Row(
                shown,
                f"{row.value} (process {fmt_ms(med_process[built_label])})",
                row.budget,
                row.verdict,
            )
        )
        if function.name in FLOORS:
            rows.append(_floor_row(function.name, med[floor_label(function.name)], alembic))
        if function.name == "check_database":
            heavy = [m for m in HEAVY if m in loaded]
            verdict: Verdict = report.expectation(
                "cold_start.check_database_imports", heavy, "modules"
            )
            shown = "neither" if not heavy else ", ".join(heavy)
            rows.append(Row("  imports alembic / sqlalchemy", shown, "neither", verdict))
        slower = med[bare_label] / med[built_label]
        rows.append(
            Row(f"  {NO_BYTE_CODE}", f"import {fmt_ms(med[bare_label])} ({slower:.1f} x as built)")
        )
    report.sections.append(
        Section(
            "Cold start on python3.13: the built layer (host wheels), read-only, no cache",
            rows,
        )
    )
    report.results["cold_start"] = {
        "method": "python3.13 -S -s, PYTHONDONTWRITEBYTECODE=1, the function's code, the layer "
        "built by host-layer (read-only) and the runtime's SDK on PYTHONPATH, Lambda's and the "
        "template's environment; import_ms is the handler module's import, timed in the child; "
        "process_ms is spawn until the module is loaded",
        "python": python313,
        "median_import_ms": med,
        "median_process_ms": med_process,
        "init_ms": {f.name: med_process[f"{f.name} {AS_BUILT}"] for f in functions},
        "floor_import_ms": {name: med[floor_label(name)] for name in FLOORS},
        "floor_packages": {name: what for name, (what, _) in FLOORS.items()},
        "runs_import_ms": imports,
    }
