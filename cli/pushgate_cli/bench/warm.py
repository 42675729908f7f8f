"""Warm latency and the seed's way.

The real handlers against an embedded PostgreSQL already at head (``run_migrations`` keeps its
parsed scripts and engine across invocations); the naive baseline is alembic's command API
(``command.upgrade(config, "head")``) in-process. Per task start: the seed's ``alembic upgrade
head`` as a fresh process, against pushgate's zero (it migrates once per deploy, in the state
machine, never when a task starts).
"""

from __future__ import annotations

import configparser
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from pushgate_cli.bench.budgets import WARM_UPGRADE_AT_HEAD_MS, MeasurementError, Report
from pushgate_cli.bench.cold_start import median
from pushgate_cli.bench.table import Row, Section, fmt_ms
from pushgate_cli.handlers import REPO_ROOT, load_handler


def _sqlalchemy_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"postgresql+pg8000://{rest}" if scheme in {"postgresql", "postgres"} else url


def time_calls(call: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    """Milliseconds of each of ``repeat`` calls, after ``warmup`` calls that do not count."""
    for _ in range(warmup):
        call()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        runs.append((time.perf_counter() - started) * 1000)
    return runs


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
    from pushgate_cli.rehearse import _environ
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
            settings.MIGRATIONS_SOURCE: "bundled",
            settings.POWERTOOLS_SERVICE_NAME: "pushgate",
            settings.POWERTOOLS_METRICS_NAMESPACE: "Pushgate",
            settings.POWERTOOLS_TRACE_DISABLED: "true",
            settings.POWERTOOLS_LOG_LEVEL: "INFO",  # as deployed (ApplicationLogLevel INFO)
        }
        with _environ(env), contextlib.redirect_stdout(logs):
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

            ready_ms = time_calls(readiness, repeat)
            upgrade_ms = time_calls(upgrade_at_head, repeat)
            naive_ms = time_calls(lambda: _naive_upgrade(url, migrations), repeat)

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

        seed_ms = time_calls(seed_upgrade, repeat)
        if current_revision(url) != head:
            raise MeasurementError("the database left head during the warm measurements")

    ready, upgrade, naive, seed = (median(v) for v in (ready_ms, upgrade_ms, naive_ms, seed_ms))
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
