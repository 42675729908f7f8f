"""`pushgate bench` (`make bench`): the performance budget of a deploy, measured on this machine.

Users pay for the pipeline in three currencies: the time it adds between a push and a healthy
service, what each deploy costs, and cold starts. This measures each, as the median of
``--repeat`` runs, prints one table (each budget line PASS or OVER) and writes the same figures
as JSON. It exits 0 when every measurement was made, OVER or not (it is a report), and 1 when
one could not be made. It is not part of `make test` (only its pure parts are unit-tested).

- Cold start: the time to import the handler module (with
  :func:`pushgate_cli.handlers.load_handler`, in the environment the template gives the
  function) in a fresh interpreter (``python -c``); beside it the whole process until the
  module is loaded, a bare interpreter's start, and ``import alembic`` measured the same way.
  The budgets compare imports: the interpreter's start is the same for every function.
- Sizes: a real ``sam build`` (no Docker) into a temporary directory; each artifact unzipped and
  zipped (deflate, in memory), and anything shipped that never runs.
- Warm latency: the real handlers against an embedded PostgreSQL already at head; the naive
  baseline is alembic's command API (``command.upgrade(config, "head")``) in-process.
- Per task start: the seed's ``alembic upgrade head`` as a fresh process, against pushgate's
  zero (it migrates once per deploy, in the state machine, never when a task starts).
- The rehearsal (healthy, instant ECS): wall time, transitions outside the health polls,
  transitions per poll (read from the execution history and the definition that ran), and the
  list-price cost of one deploy whose rollout takes five minutes at the configured poll
  interval.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, TextIO
from unittest import mock

from pushgate_cli.handlers import REPO_ROOT, load_handler

Verdict = Literal["PASS", "OVER"]

# --- budgets (issue 5) ----------------------------------------------------------------------
CHECK_DATABASE_COLD_START_MS: Final = 250.0
RUN_MIGRATIONS_VS_ALEMBIC: Final = 1.15  # run_migrations' cold start / `import alembic`'s
LAYER_UNZIPPED_BYTES: Final = 25 * 1024 * 1024
WARM_UPGRADE_AT_HEAD_MS: Final = 20.0
ROLLOUT_SECONDS: Final = 300  # the cost estimate is for a rollout that takes five minutes
CONFIG_ENV: Final = "dev"  # whose samconfig parameters are rehearsed (else template defaults)
FUNCTIONS: Final = {  # handler directory -> logical id in template.yaml
    "check_database": "CheckDatabaseFunction",
    "run_migrations": "RunMigrationsFunction",
    "prepare_rollout": "PrepareRolloutFunction",
}
NEVER_SHIPPED_DIRS: Final = frozenset({"tests", "__pycache__", "bin"})
NEVER_SHIPPED_SUFFIXES: Final = frozenset({".pyc", ".pyo"})
_MARKER: Final = "@@pushgate-bench "
BARE: Final = "python -c pass"
ALEMBIC: Final = 'python -c "import alembic"'


@dataclass(frozen=True)
class Prices:
    """AWS list prices (us-east-1, beyond the free tier), as published on the pages named."""

    sfn_standard_per_1000_transitions: float = 0.025
    lambda_arm64_per_gb_second: float = 0.0000133334
    lambda_per_million_requests: float = 0.20
    sources: Mapping[str, str] = field(
        default_factory=lambda: {
            "Step Functions Standard workflows, state transitions": (
                "https://aws.amazon.com/step-functions/pricing/"
            ),
            "Lambda arm64 duration (GB-s) and requests": "https://aws.amazon.com/lambda/pricing/",
            "Lambda INIT billed like duration since 2025-08-01": (
                "https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/"
            ),
        }
    )


PRICES: Final = Prices()


# --- the pure parts: judgement, arithmetic, formatting ---------------------------------------
def judge(value: float, limit: float) -> Verdict:
    """PASS when the value is within its budget (equal counts as within)."""
    return "PASS" if value <= limit else "OVER"


@dataclass(frozen=True)
class Billed:
    """One Lambda invocation as billed: its memory and its duration."""

    memory_mb: int
    duration_ms: float


@dataclass(frozen=True)
class Cost:
    transitions: int
    gb_seconds: float
    requests: int
    step_functions_usd: float
    lambda_duration_usd: float
    lambda_requests_usd: float

    @property
    def total_usd(self) -> float:
        return self.step_functions_usd + self.lambda_duration_usd + self.lambda_requests_usd


def gb_seconds(invocations: Sequence[Billed]) -> float:
    """Lambda's billed compute: memory (GB) x duration rounded up to the millisecond."""
    return sum(i.memory_mb / 1024 * math.ceil(i.duration_ms) / 1000 for i in invocations)


def deploy_cost(transitions: int, invocations: Sequence[Billed], prices: Prices = PRICES) -> Cost:
    """The list price of one execution: its state transitions and its Lambda invocations."""
    compute = gb_seconds(invocations)
    return Cost(
        transitions=transitions,
        gb_seconds=compute,
        requests=len(invocations),
        step_functions_usd=transitions * prices.sfn_standard_per_1000_transitions / 1000,
        lambda_duration_usd=compute * prices.lambda_arm64_per_gb_second,
        lambda_requests_usd=len(invocations) * prices.lambda_per_million_requests / 1_000_000,
    )


def polls_for(rollout_seconds: float, poll_interval_seconds: float) -> int:
    """Health polls until a rollout of that length is seen complete (the first look is after
    one interval)."""
    if poll_interval_seconds <= 0:
        raise ValueError("the poll interval must be positive")
    return max(1, math.ceil(rollout_seconds / poll_interval_seconds))


def transitions_for(base: int, per_poll: int, final_poll: int, polls: int) -> int:
    """Transitions of a run whose health wait takes ``polls`` polls: the states outside the
    loop, ``polls - 1`` polls that go round again, and the last one that leaves the loop."""
    return base + (polls - 1) * per_poll + final_poll


def successors(state: Mapping[str, Any]) -> set[str]:
    """The states an ASL state can go to next (Next, Default, Choices, Catch)."""
    found = {str(state[key]) for key in ("Next", "Default") if key in state}
    found |= {str(rule["Next"]) for rule in state.get("Choices", []) if "Next" in rule}
    found |= {str(catch["Next"]) for catch in state.get("Catch", []) if "Next" in catch}
    return found


def loop_states(definition: Mapping[str, Any], start: str) -> set[str]:
    """The states of the loop through ``start``: reachable from it and leading back to it."""
    states: Mapping[str, Any] = definition["States"]
    if start not in states:
        raise KeyError(f"no state {start!r} in the definition")
    graph = {name: successors(spec) for name, spec in states.items()}

    def reachable(origin: str, edges: Mapping[str, set[str]]) -> set[str]:
        seen: set[str] = set()
        todo = [origin]
        while todo:
            for nxt in edges.get(todo.pop(), set()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reverse: dict[str, set[str]] = {}
    for name, nexts in graph.items():
        for nxt in nexts:
            reverse.setdefault(nxt, set()).add(name)
    return (reachable(start, graph) | {start}) & (reachable(start, reverse) | {start})


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


def never_shipped(relative_paths: Sequence[str]) -> list[str]:
    """The paths of a package that never run in Lambda: tests, byte-code caches, scripts."""
    found = []
    for text in relative_paths:
        parts = Path(text).parts
        if NEVER_SHIPPED_DIRS.intersection(parts) or Path(text).suffix in NEVER_SHIPPED_SUFFIXES:
            found.append(text)
    return sorted(found)


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def fmt_bytes(value: float) -> str:
    if value >= 1024 * 1024:
        return f"{value / 1024 / 1024:.1f} MiB"
    return f"{value / 1024:.1f} KiB"


def fmt_usd(value: float) -> str:
    """Dollars with three significant digits, never in scientific notation."""
    if value <= 0:
        return "$0.00"
    decimals = max(2, 2 - math.floor(math.log10(value)))
    return f"${value:.{decimals}f}"


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    budget: str = ""
    verdict: Verdict | None = None


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]


def render_table(sections: Sequence[Section], heading: str = "") -> str:
    """One table: a title line per section, then label | value | budget | verdict rows."""
    rows = [row for section in sections for row in section.rows]
    header = Row("measure", "value", "budget", None)
    widths = [
        max(len(r.label) + 2 for r in [*rows, header]),
        max(len(r.value) for r in [*rows, header]),
        max(len(r.budget) for r in [*rows, header]),
    ]

    def line(row: Row, indent: str = "  ") -> str:
        cells = [
            (indent + row.label).ljust(widths[0]),
            row.value.ljust(widths[1]),
            row.budget.ljust(widths[2]),
            row.verdict or ("verdict" if row is header else ""),
        ]
        return "  ".join(cells).rstrip()

    out = [heading] if heading else []
    out.append(line(header, indent=""))
    out.append("-" * len(out[-1]))
    for section in sections:
        out.append(section.title)
        out.extend(line(row) for row in section.rows)
    return "\n".join(out)


# --- measurement plumbing --------------------------------------------------------------------
class MeasurementError(Exception):
    """A figure could not be measured (the bench exits non-zero)."""


@dataclass
class Report:
    sections: list[Section] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def budget(
        self, name: str, value: float, limit: float, unit: str, budget_text: str
    ) -> tuple[str, Verdict]:
        verdict = judge(value, limit)
        self.budgets.append(
            {"name": name, "value": value, "limit": limit, "unit": unit, "verdict": verdict}
        )
        return budget_text, verdict


def _say(message: str) -> None:
    print(f"pushgate bench: {message}", file=sys.stderr, flush=True)  # noqa: T201


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


# --- cold starts -----------------------------------------------------------------------------
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


@dataclass(frozen=True)
class Probe:
    name: str
    body: str
    module: str = "__main__"

    def code(self) -> str:
        return _PROBE.format(body=self.body, marker=_MARKER, module=self.module)


def _probes() -> list[Probe]:
    probes = [Probe(BARE, "pass"), Probe(ALEMBIC, "import alembic")]
    for name in FUNCTIONS:
        body = f"from pushgate_cli.handlers import load_handler\nload_handler({name!r})"
        probes.append(Probe(name, body, module=f"pushgate_fn_{name}"))
    return probes


def _spawn_until_loaded(probe: Probe, env: Mapping[str, str]) -> tuple[float, dict[str, Any]]:
    """Spawn the probe; milliseconds until it reports the module loaded, and its report."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", probe.code()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=dict(env),
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


def cold_start_environment(
    template: Mapping[str, Any], parameters: Mapping[str, str]
) -> dict[str, str]:
    """What every function's cold start sees: the template's environment (resolved), a region,
    X-Ray off (there is no daemon here), and byte-code caches allowed."""
    from pushgate_cli.template import Resolver, function_environment

    resolver = Resolver(template, parameters)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("POWERTOOLS_", "DATABASE_", "MIGRATION", "AWS_"))
        # the warm-up round must leave byte-code caches for pushgate's own modules too, as
        # pip left them for alembic's: otherwise only ours are compiled from source each time
        and k != "PYTHONDONTWRITEBYTECODE"
    }
    for logical_id in FUNCTIONS.values():
        env.update(function_environment(template, resolver, logical_id))
    env.update(
        {
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "eu-west-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return env


def measure_cold_starts(report: Report, repeat: int, env: Mapping[str, str]) -> None:
    probes = _probes()
    times: dict[str, list[float]] = {p.name: [] for p in probes}
    imports: dict[str, list[float]] = {p.name: [] for p in probes}
    modules: dict[str, list[str]] = {}
    for round_ in range(repeat + 1):  # round 0 warms the byte-code caches: not counted
        for probe in probes:  # interleaved, so drift on the machine hits every probe alike
            elapsed, probe_report = _spawn_until_loaded(probe, env)
            if round_:
                times[probe.name].append(elapsed)
                imports[probe.name].append(float(probe_report["import_ms"]))
                modules[probe.name] = list(probe_report["modules"])
    med = {name: _median(values) for name, values in times.items()}
    med_import = {name: _median(values) for name, values in imports.items()}
    bare, alembic = med[BARE], med_import[ALEMBIC]
    rows = [
        Row(f"{BARE} (a bare interpreter)", fmt_ms(bare)),
        Row(
            ALEMBIC,
            f"import {fmt_ms(alembic)} (process {fmt_ms(med[ALEMBIC])})",
        ),
    ]
    for name in FUNCTIONS:
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
            verdict_modules: Verdict = "PASS" if not heavy else "OVER"
            report.budgets.append(
                {
                    "name": "cold_start.check_database_imports",
                    "value": heavy,
                    "limit": [],
                    "unit": "modules",
                    "verdict": verdict_modules,
                }
            )
            rows.append(
                Row(
                    "  imports alembic / sqlalchemy",
                    "neither" if not heavy else ", ".join(heavy),
                    "neither",
                    verdict_modules,
                )
            )
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


# --- sizes -----------------------------------------------------------------------------------
def package_sizes(directory: Path) -> tuple[int, int, list[str]]:
    """(unzipped bytes, zipped bytes with deflate, relative paths of every file)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    relative = [str(p.relative_to(directory)) for p in files]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, name in zip(files, relative, strict=True):
            archive.write(path, name)
    return sum(p.stat().st_size for p in files), len(buffer.getvalue()), relative


def measure_sizes(report: Report) -> None:
    from pushgate_cli.tools import find_tool, sam_build

    sam = find_tool("sam")
    if sam is None:
        raise MeasurementError("sam is not installed (make tools)")
    with tempfile.TemporaryDirectory(prefix="pushgate-bench-build-") as scratch:
        build_dir, cache_dir = Path(scratch) / "build", Path(scratch) / "cache"
        built = sam_build(sam, build_dir, cache_dir)
        if built.returncode != 0:
            raise MeasurementError(f"sam build failed: {built.output[-1000:]}")
        artifacts = sorted(p for p in build_dir.iterdir() if p.is_dir())
        rows: list[Row] = []
        sizes: dict[str, dict[str, int]] = {}
        junk: dict[str, list[str]] = {}
        for artifact in artifacts:
            unzipped, zipped, files = package_sizes(artifact)
            sizes[artifact.name] = {"unzipped": unzipped, "zipped": zipped, "files": len(files)}
            junk[artifact.name] = never_shipped(files)
            value = f"{fmt_bytes(unzipped)} / {fmt_bytes(zipped)} zipped"
            if artifact.name == "PushgateLayer":
                budget, verdict = report.budget(
                    "size.layer_unzipped_bytes",
                    unzipped,
                    LAYER_UNZIPPED_BYTES,
                    "bytes",
                    f"<= {fmt_bytes(LAYER_UNZIPPED_BYTES)} unzipped",
                )
                rows.append(Row(artifact.name, value, budget, verdict))
            else:
                rows.append(Row(artifact.name, value))
    if "PushgateLayer" not in sizes:
        raise MeasurementError("sam build produced no PushgateLayer")
    shipped = sorted(f"{name}/{path}" for name, paths in junk.items() for path in paths)
    clean: Verdict = "PASS" if not shipped else "OVER"
    report.budgets.append(
        {
            "name": "size.never_shipped",
            "value": shipped,
            "limit": [],
            "unit": "paths",
            "verdict": clean,
        }
    )
    shown = "none" if not shipped else f"{len(shipped)}: {', '.join(shipped[:3])}"
    rows.append(Row("tests/, __pycache__, *.pyc, bin/ shipped", shown, "none", clean))
    report.sections.append(Section("Package sizes: sam build (no Docker), deflate", rows))
    report.results["sizes"] = {"bytes": sizes, "never_shipped": shipped}


# --- warm latency and the seed's way --------------------------------------------------------
def _sqlalchemy_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+pg8000://{rest}" if scheme in {"postgresql", "postgres"} else url


def _time_calls(call: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        call()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return runs


@contextlib.contextmanager
def _environment(values: Mapping[str, str | None]) -> Iterator[None]:
    with mock.patch.dict(os.environ):  # restores the whole environment on exit
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield


def _context(function: str, memory_mb: int) -> Any:
    from pushgate_cli.lambda_context import LambdaContext

    name = f"pushgate-bench-{function}"
    return LambdaContext.invocation(name, timeout_s=30, memory_mb=memory_mb, region="eu-west-1")


def _naive_upgrade(url: str, migrations: Path) -> None:
    """What a handler that keeps nothing across invocations would do: alembic's command API."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.set_main_option("sqlalchemy.url", _sqlalchemy_url(url).replace("%", "%%"))
    command.upgrade(config, "head")


def _seed_ini(url: str, migrations: Path, directory: Path) -> Path:
    """migrations/alembic.ini with the database URL, as the seed's image had it."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(migrations / "alembic.ini")
    parser["alembic"]["script_location"] = str(migrations)
    parser["alembic"]["sqlalchemy.url"] = _sqlalchemy_url(url).replace("%", "%%")
    ini = directory / "alembic.ini"
    with ini.open("w") as handle:
        parser.write(handle)
    return ini


def measure_database(report: Report, repeat: int, memory: Mapping[str, int], logs: TextIO) -> None:
    from pushgate import settings

    from pushgate_cli.embedded import EmbeddedPostgres
    from pushgate_cli.schema import current_revision, head_of, move_to

    migrations = REPO_ROOT / "migrations"
    with EmbeddedPostgres() as server, tempfile.TemporaryDirectory() as scratch:
        url = server.create_database("bench")
        head = head_of(migrations)
        move_to(url, migrations, "head")
        env: dict[str, str | None] = {
            settings.DATABASE_URL: url,
            settings.DATABASE_SECRET_ARN: None,
            settings.MIGRATIONS_DIR: None,
            settings.POWERTOOLS_SERVICE_NAME: "pushgate",
            settings.POWERTOOLS_METRICS_NAMESPACE: "Pushgate",
            settings.POWERTOOLS_TRACE_DISABLED: "true",
            settings.POWERTOOLS_LOG_LEVEL: "INFO",  # as deployed (ApplicationLogLevel INFO)
        }
        with _environment(env), contextlib.redirect_stdout(logs):
            check = load_handler("check_database", fresh=True)
            migrate = load_handler("run_migrations", fresh=True)

            def readiness() -> None:
                result = check.lambda_handler(
                    {}, _context("check_database", memory["check_database"])
                )
                if result["revision"] != head:
                    raise MeasurementError(f"check_database saw {result['revision']}, not {head}")

            def upgrade_at_head() -> None:
                result = migrate.lambda_handler(
                    {"action": "upgrade", "target": "head"},
                    _context("run_migrations", memory["run_migrations"]),
                )
                if result["applied"] or result["to_revision"] != head:
                    raise MeasurementError(f"the upgrade was not a no-op at head: {result}")

            ready_ms = _time_calls(readiness, repeat)
            upgrade_ms = _time_calls(upgrade_at_head, repeat)
            naive_ms = _time_calls(lambda: _naive_upgrade(url, migrations), repeat)

        ini = _seed_ini(url, migrations, Path(scratch))
        seed_env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}

        def seed_upgrade() -> None:
            done = subprocess.run(
                [sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                capture_output=True,
                text=True,
                env=seed_env,
                cwd=scratch,
                timeout=120,
                check=False,
            )
            if done.returncode != 0:
                raise MeasurementError(f"alembic upgrade head failed: {done.stderr[-500:]}")

        seed_ms = _time_calls(seed_upgrade, repeat)
        if current_revision(url) != head:
            raise MeasurementError("the database left head during the warm measurements")

    ready, upgrade, naive, seed = (_median(v) for v in (ready_ms, upgrade_ms, naive_ms, seed_ms))
    budget, verdict = report.budget(
        "warm.run_migrations_upgrade_at_head_ms",
        upgrade,
        WARM_UPGRADE_AT_HEAD_MS,
        "ms",
        f"<= {WARM_UPGRADE_AT_HEAD_MS:.0f} ms",
    )
    report.sections.append(
        Section(
            "Warm latency: the real handlers, embedded PostgreSQL at head",
            [
                Row("check_database (readiness)", fmt_ms(ready)),
                Row("run_migrations upgrade, already at head", fmt_ms(upgrade), budget, verdict),
                Row("naive: alembic command.upgrade(config, head)", fmt_ms(naive)),
            ],
        )
    )
    report.sections.append(
        Section(
            "Per task start (every ECS task, every scale-out)",
            [
                Row("seed: alembic upgrade head, fresh process", fmt_ms(seed)),
                Row("pushgate (migrates once per deploy instead)", "0 ms"),
            ],
        )
    )
    report.results["warm"] = {
        "median_ms": {
            "check_database": ready,
            "run_migrations_upgrade_at_head": upgrade,
            "naive_alembic_command_upgrade": naive,
        },
        "runs_ms": {
            "check_database": ready_ms,
            "run_migrations_upgrade_at_head": upgrade_ms,
            "naive_alembic_command_upgrade": naive_ms,
        },
    }
    report.results["per_task_start"] = {
        "seed_alembic_upgrade_head_ms": seed,
        "seed_runs_ms": seed_ms,
        "pushgate_ms": 0,
    }


# --- the rehearsal and the cost of a deploy -------------------------------------------------
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


def _poll_interval(template: Mapping[str, Any], parameters: Mapping[str, str]) -> float:
    name = "PollIntervalSeconds"
    return float(parameters.get(name) or template["Parameters"][name]["Default"])


def measure_rehearsal(
    report: Report,
    repeat: int,
    poll_interval: float,
    cold_start_ms: Mapping[str, float],
    memory: Mapping[str, int],
    logs: TextIO,
) -> None:
    runs = [_rehearse_once(1, logs) for _ in range(repeat)]
    two_polls = _rehearse_once(2, logs)
    first = runs[0]
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
    per_poll = lengths[0]
    transitions = [len(r.path) + r.retries for r in runs]
    base = len(first.path) + first.retries - final_poll
    if transitions_for(base, per_poll, final_poll, 2) != len(two_polls.path) + two_polls.retries:
        raise MeasurementError("the two-poll run does not add up: transitions per poll unknown")
    polls = polls_for(ROLLOUT_SECONDS, poll_interval)
    rollout_transitions = transitions_for(base, per_poll, final_poll, polls)
    costs = [deploy_cost(rollout_transitions, r.invocations) for r in runs]
    cost = sorted(costs, key=lambda c: c.total_usd)[len(costs) // 2]  # the median run's cost
    init = (
        deploy_cost(0, [Billed(memory[name], cold_start_ms[name]) for name in FUNCTIONS])
        if set(FUNCTIONS) <= set(cold_start_ms)
        else None
    )
    wall = _median([r.wall_ms for r in runs])
    rows = [
        Row("happy path wall time (waits take no time)", fmt_ms(wall)),
        Row("transitions excluding the health polls", str(base)),
        Row(
            "transitions per health poll",
            f"{per_poll} (the last poll: {final_poll})",
        ),
        Row(
            f"{ROLLOUT_SECONDS // 60}-minute rollout, polls every {poll_interval:g} s",
            f"{polls} polls, {rollout_transitions} transitions",
        ),
        Row("cost of one deploy", fmt_usd(cost.total_usd)),
        Row(
            f"  Step Functions: {cost.transitions} transitions",
            fmt_usd(cost.step_functions_usd),
        ),
        Row(
            f"  Lambda: {cost.gb_seconds:.4f} GB-s, {cost.requests} requests",
            fmt_usd(cost.lambda_duration_usd + cost.lambda_requests_usd),
        ),
    ]
    if init is not None:
        rows.append(
            Row(
                f"  + INIT if all three start cold: {init.gb_seconds:.4f} GB-s",
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
        "transitions_happy_path": transitions,
        "transitions_excluding_health_polls": base,
        "transitions_per_health_poll": per_poll,
        "transitions_last_health_poll": final_poll,
        "health_poll_states": sorted(loop),
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
        "init_if_all_cold_usd": init.lambda_duration_usd if init is not None else None,
        "invocations": [asdict(i) for i in runs[0].invocations],
    }


# --- the command -----------------------------------------------------------------------------
def run_bench(*, output: Path, repeat: int) -> int:
    """Measure, print the table, write the JSON to ``output``. 0: every figure measured."""
    if repeat < 1:
        print("pushgate bench: --repeat must be at least 1", file=sys.stderr)  # noqa: T201
        return 2
    from pushgate_cli.template import (
        Resolver,
        function_setting,
        load_template,
        samconfig_parameters,
    )

    template = load_template(REPO_ROOT / "template.yaml")
    parameters = samconfig_parameters(REPO_ROOT / "samconfig.toml", CONFIG_ENV)
    resolver = Resolver(template, parameters)
    memory = {
        name: int(function_setting(template, logical_id, "MemorySize", resolver))
        for name, logical_id in FUNCTIONS.items()
    }
    poll_interval = _poll_interval(template, parameters)
    report = Report()
    titles = {
        "cold starts": "Cold start",
        "package sizes": "Package sizes",
        "warm latency and the seed's way": "Warm latency and per task start",
        "the rehearsal": "Rehearsal and cost",
    }

    def attempt(what: str, measure: Callable[[], None]) -> None:
        _say(f"measuring {what}...")
        try:
            measure()
        except Exception as exc:  # a figure that could not be made is reported, not hidden
            report.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            report.sections.append(
                Section(titles[what], [Row("ERROR", f"{type(exc).__name__}: {exc}"[:200])])
            )

    with open(os.devnull, "w") as logs:  # the handlers' JSON logs; the table is the output
        env = cold_start_environment(template, parameters)
        attempt("cold starts", lambda: measure_cold_starts(report, repeat, env))
        attempt("package sizes", lambda: measure_sizes(report))
        attempt(
            "warm latency and the seed's way",
            lambda: measure_database(report, repeat, memory, logs),
        )
        cold = report.results.get("cold_start", {}).get("median_ms", {})
        attempt(
            "the rehearsal",
            lambda: measure_rehearsal(report, repeat, poll_interval, cold, memory, logs),
        )

    machine = (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    heading = f"pushgate bench: median of {repeat} runs on this machine ({machine})"
    prices = PRICES
    price_lines = [
        "Prices (list, us-east-1, beyond the free tier): "
        f"Step Functions Standard ${prices.sfn_standard_per_1000_transitions} per 1,000 "
        f"transitions; Lambda arm64 ${prices.lambda_arm64_per_gb_second:.10f} per GB-s, "
        f"${prices.lambda_per_million_requests:.2f} per 1M requests.",
        *(f"  {what}: {url}" for what, url in prices.sources.items()),
    ]
    verdicts = [b["verdict"] for b in report.budgets]
    summary = f"{verdicts.count('PASS')} budgets PASS, {verdicts.count('OVER')} OVER" + (
        f"; {len(report.errors)} measurements FAILED" if report.errors else ""
    )
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "repeat": repeat,
        **report.results,
        "budgets": report.budgets,
        "prices": {**asdict(prices), "sources": dict(prices.sources)},
        "errors": report.errors,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    table = render_table(report.sections, heading)
    print(f"{table}\n\n{chr(10).join(price_lines)}\n\n{summary}; JSON: {output}")  # noqa: T201
    for error in report.errors:
        _say(f"could not measure {error}")
    return 1 if report.errors else 0
