"""`pushgate bench`: measure each part, print the table, write the JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from pushgate_cli.bench.budgets import Report
from pushgate_cli.bench.cold_start import measure_cold_starts
from pushgate_cli.bench.cost import PRICES, price_lines
from pushgate_cli.bench.image import measure_image
from pushgate_cli.bench.rehearsal import measure_rehearsal
from pushgate_cli.bench.runners import measure_runners
from pushgate_cli.bench.sizes import measure_sizes
from pushgate_cli.bench.stack import (
    CONFIG_ENV,
    all_functions,
    config_resolvers,
    own_environments,
    stack_functions,
)
from pushgate_cli.bench.table import Row, Section, render_table
from pushgate_cli.bench.warm import measure_database
from pushgate_cli.handlers import REPO_ROOT

_TITLES = {
    "cold starts": "Cold start",
    "package sizes": "Package sizes",
    "warm latency and the seed's way": "Warm latency and per task start",
    "the rehearsal": "Rehearsal and cost",
    "both runners": "Both runners",
    "the image's scripts": "Reading the scripts out of an image",
}
# `pushgate bench --only NAME`: one part alone (its figures and budgets, nothing else measured)
SECTIONS = {
    "cold-starts": "cold starts",
    "sizes": "package sizes",
    "warm": "warm latency and the seed's way",
    "image": "the image's scripts",
    "rehearsal": "the rehearsal",
}


def _say(message: str) -> None:
    print(f"pushgate bench: {message}", file=sys.stderr, flush=True)  # noqa: T201


def _summary(report: Report) -> str:
    verdicts = [b["verdict"] for b in report.budgets]
    return f"{verdicts.count('PASS')} budgets PASS, {verdicts.count('OVER')} OVER" + (
        f"; {len(report.errors)} measurements FAILED" if report.errors else ""
    )


def _write_json(output: Path, report: Report, machine: str, repeat: int) -> None:
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "repeat": repeat,
        **report.results,
        "budgets": report.budgets,
        "prices": {**asdict(PRICES), "sources": dict(PRICES.sources)},
        "errors": report.errors,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")


def run_bench(*, output: Path, repeat: int, only: str | None = None) -> int:
    """Measure (every part, or the one ``only`` names: a key of :data:`SECTIONS`), print the
    table, write the JSON to ``output``. 0: every figure measured."""
    if repeat < 1:
        _say("--repeat must be at least 1")
        return 2
    if only is not None and only not in SECTIONS:
        _say(f"--only must be one of {', '.join(SECTIONS)}, not {only!r}")
        return 2
    from pushgate_cli.template import load_template

    template = load_template(REPO_ROOT / "template.yaml")
    resolvers = config_resolvers(template, REPO_ROOT / "samconfig.toml")
    functions = stack_functions(template, resolvers[CONFIG_ENV])  # what a deploy runs
    every = all_functions(template, resolvers)  # every function's cold start is measured
    memory = {f.name: f.memory_mb for f in functions}
    environments = own_environments(template, resolvers, every)
    report = Report()

    def attempt(what: str, measure: Callable[[], None]) -> None:
        if only is not None and SECTIONS[only] != what:
            return
        _say(f"measuring {what}...")
        try:
            measure()
        except Exception as exc:  # a figure that could not be made is reported, not hidden
            report.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            report.sections.append(
                Section(_TITLES[what], [Row("ERROR", f"{type(exc).__name__}: {exc}"[:200])])
            )

    with open(os.devnull, "w") as logs:  # the handlers' JSON logs; the table is the output
        attempt("cold starts", lambda: measure_cold_starts(report, repeat, every, environments))
        attempt("package sizes", lambda: measure_sizes(report))
        attempt(
            "warm latency and the seed's way",
            lambda: measure_database(report, repeat, memory, logs),
        )
        attempt("the image's scripts", lambda: measure_image(report, repeat))
        cold = report.results.get("cold_start", {}).get("init_ms", {})
        attempt(
            "the rehearsal",
            lambda: measure_rehearsal(
                report,
                repeat,
                float(resolvers[CONFIG_ENV].ref("SafetyPollSeconds")),
                cold,
                functions,
                logs,
            ),
        )
        attempt("both runners", lambda: measure_runners(report, logs))

    machine = (
        f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    heading = f"pushgate bench: median of {repeat} runs on this machine ({machine})"
    table = render_table(report.sections, heading)
    prices = "\n".join(price_lines())
    try:
        _write_json(output, report, machine, repeat)
    except OSError as exc:  # checked before the work, and still failed: the table is kept
        print(f"{table}\n\n{prices}\n\n{_summary(report)}")  # noqa: T201
        _say(f"cannot write --output {output}: {exc.strerror or exc} (the table above stands)")
        return 1
    print(f"{table}\n\n{prices}\n\n{_summary(report)}; JSON: {output}")  # noqa: T201
    for error in report.errors:
        _say(f"could not measure {error}")
    return 1 if report.errors else 0
