"""Cold starts: the time to import each handler module in a fresh interpreter.

Each probe is a ``python -c`` that imports the handler (with
:func:`pushgate_cli.handlers.load_handler`, in the environment the template gives that function
alone) and reports how long the import took; beside it the whole process until the module is
loaded, a bare interpreter's start, and ``import alembic`` measured the same way. The budgets
compare imports: the interpreter's start is the same for every function.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pushgate_cli.bench.budgets import (
    CHECK_DATABASE_COLD_START_MS,
    RUN_MIGRATIONS_VS_ALEMBIC,
    MeasurementError,
    Report,
)
from pushgate_cli.bench.stack import StackFunction
from pushgate_cli.bench.table import Row, Section, fmt_ms

BARE: Final = "python -c pass"
ALEMBIC: Final = 'python -c "import alembic"'
_MARKER: Final = "@@pushgate-bench "
_PROBE = """\
import time as _bench_time
_bench_started = _bench_time.perf_counter()
{body}
_bench_ms = (_bench_time.perf_counter() - _bench_started) * 1000
import json as _bench_json, os as _bench_os, sys as _bench_sys
_bench_sys.stdout.write({marker!r} + _bench_json.dumps({{
    "import_ms": _bench_ms,
    "modules": sorted(m for m in ("alembic", "sqlalchemy") if m in _bench_sys.modules),
    "cold_start_errors": [
        f"{{k}}: {{type(v).__name__}}"
        for k, v in vars(_bench_sys.modules.get({module!r}, _bench_sys)).items()
        if isinstance(v, BaseException)
    ],
}}) + "\\n")
_bench_sys.stdout.flush()
_bench_os._exit(0)
"""


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class Probe:
    name: str
    body: str
    env: Mapping[str, str]
    module: str = "__main__"

    def code(self) -> str:
        return _PROBE.format(body=self.body, marker=_MARKER, module=self.module)


def handler_probe(function: StackFunction, env: Mapping[str, str]) -> Probe:
    body = f"from pushgate_cli.handlers import load_handler\nload_handler({function.name!r})"
    return Probe(function.name, body, env, module=f"pushgate_fn_{function.name}")


def spawn_until_loaded(probe: Probe) -> tuple[float, dict[str, Any]]:
    """Spawn the probe; milliseconds until it reports the module loaded, and its report."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", probe.code()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=dict(probe.env),
        text=True,
    )
    assert child.stdout is not None
    report: dict[str, Any] | None = None
    elapsed = 0.0
    for line in child.stdout:
        if line.startswith(_MARKER):
            elapsed = (time.perf_counter() - started) * 1000
            report = json.loads(line[len(_MARKER) :])
            break
    _, stderr = child.communicate(timeout=60)
    if report is None or child.returncode != 0:
        raise MeasurementError(
            f"the cold start of {probe.name} failed ({child.returncode}): {stderr.strip()[-500:]}"
        )
    if report["cold_start_errors"]:
        raise MeasurementError(
            f"{probe.name} kept errors at cold start: {', '.join(report['cold_start_errors'])}"
        )
    return elapsed, report


def base_environment() -> dict[str, str]:
    """This process's environment without any function's settings, with a region and X-Ray
    off (there is no daemon here); byte-code caches allowed."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POWERTOOLS_", "DATABASE_", "MIGRATION", "AWS_"))
        # the warm-up round must leave byte-code caches for pushgate's own modules too, as
        # pip left them for alembic's: otherwise only ours are compiled from source each time
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        {
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return env


def measure_cold_starts(
    report: Report,
    repeat: int,
    functions: Sequence[StackFunction],
    environments: Mapping[str, Mapping[str, str]],
) -> None:
    """``environments``: each function's own template environment, by handler name."""
    base = base_environment()
    probes = [Probe(BARE, "pass", base), Probe(ALEMBIC, "import alembic", base)]
    probes += [handler_probe(f, {**base, **environments[f.name]}) for f in functions]
    times: dict[str, list[float]] = {p.name: [] for p in probes}
    imports: dict[str, list[float]] = {p.name: [] for p in probes}
    modules: dict[str, list[str]] = {}
    for round_ in range(repeat + 1):  # round 0 warms the byte-code caches: not counted
        for probe in probes:  # interleaved, so drift on the machine hits every probe alike
            elapsed, probe_report = spawn_until_loaded(probe)
            if round_:
                times[probe.name].append(elapsed)
                imports[probe.name].append(float(probe_report["import_ms"]))
                modules[probe.name] = list(probe_report["modules"])
    med = {name: median(values) for name, values in times.items()}
    med_import = {name: median(values) for name, values in imports.items()}
    bare, alembic = med[BARE], med_import[ALEMBIC]
    rows = [
        Row(f"{BARE} (a bare interpreter)", fmt_ms(bare)),
        Row(ALEMBIC, f"import {fmt_ms(alembic)} (process {fmt_ms(med[ALEMBIC])})"),
    ]
    for function in functions:
        name = function.name
        value = f"import {fmt_ms(med_import[name])} (process {fmt_ms(med[name])})"
        if name == "check_database":
            budget, verdict = report.budget(
                "cold_start.check_database_ms",
                med_import[name],
                CHECK_DATABASE_COLD_START_MS,
                "ms",
                f"<= {CHECK_DATABASE_COLD_START_MS:.0f} ms",
            )
            rows.append(Row(name, value, budget, verdict))
            heavy = modules[name]
            verdict = report.expectation("cold_start.check_database_imports", heavy, "modules")
            shown = "neither" if not heavy else ", ".join(heavy)
            rows.append(Row("  imports alembic / sqlalchemy", shown, "neither", verdict))
        elif name == "run_migrations":
            ratio = med_import[name] / alembic
            budget, verdict = report.budget(
                "cold_start.run_migrations_vs_import_alembic",
                ratio,
                RUN_MIGRATIONS_VS_ALEMBIC,
                "ratio",
                f"<= {RUN_MIGRATIONS_VS_ALEMBIC} x import alembic",
            )
            rows.append(Row(name, f"{value} = {ratio:.2f} x", budget, verdict))
        else:
            rows.append(Row(name, value))
    report.sections.append(
        Section("Cold start: importing the handler in a fresh interpreter", rows)
    )
    report.results["cold_start"] = {
        "method": "spawn to handler module loaded (interpreter start included); import_ms is "
        "the import alone, timed inside the child",
        "median_ms": med,
        "median_import_ms": med_import,
        "heavy_modules_loaded": modules,
        "runs_ms": times,
    }
