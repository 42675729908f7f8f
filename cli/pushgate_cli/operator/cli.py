"""The operator sub-commands of `pushgate`: arguments, rendering, exit codes.

Exit codes: 0 done; 1 the command could not do its work (credentials, region, stack, no runs,
an AWS error), one line on stderr; 2 bad input refused, nothing started or changed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pushgate_cli.operator import commands
from pushgate_cli.operator.account import StackRef, connect, default_samconfig, samconfig_stack
from pushgate_cli.operator.errors import OperatorError, Refused
from pushgate_cli.operator.runs import Run
from pushgate_cli.render import _seconds, _short, state_rows

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
COMMANDS = ("status", "history", "replay", "redrive", "explain")
# ECS keeps describing a deleted service for a while, under these statuses
SERVICE_GONE = {"DRAINING": "DRAINING (being deleted)", "INACTIVE": "INACTIVE (deleted)"}
_PERIOD = re.compile(r"(\d{1,18})([dhm])")  # more digits than int() reads is no period


def add_commands(subcommands: Any) -> None:
    """Add status, history, replay, redrive and explain to `pushgate`'s sub-parsers."""
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which stack (names come from its outputs)")
    where.add_argument(
        "--config-env",
        default="dev",
        metavar="ENV",
        help="the samconfig.toml environment whose stack_name and region are used (default dev)",
    )
    where.add_argument("--stack", metavar="NAME", help="a stack name instead of samconfig's")
    where.add_argument("--samconfig", type=Path, metavar="FILE", help="default ./samconfig.toml")
    where.add_argument("--profile", help="AWS profile (default: AWS_PROFILE, then default)")
    where.add_argument(
        "--region", help="AWS region (default: AWS_DEFAULT_REGION, the profile's, then samconfig's)"
    )

    status = subcommands.add_parser(
        "status", parents=[common], help="what is serving, at which revision, the last runs"
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")

    history = subcommands.add_parser(
        "history", parents=[common], help="the runs of a period, as a table or JSON"
    )
    history.add_argument(
        "--since",
        default="7d",
        metavar="WHEN",
        help="a period back from now (30m, 24h, 7d) or a UTC date (2026-11-30); default 7d",
    )
    history.add_argument("--json", action="store_true", help="print the runs as JSON")

    replay = subcommands.add_parser(
        "replay", parents=[common], help="start a run for an image of the repository"
    )
    replay.add_argument("image", metavar="TAG|DIGEST", help="a tag or a sha256: digest")

    redrive = subcommands.add_parser(
        "redrive", parents=[common], help="redrive a run that died on its way"
    )
    redrive.add_argument("execution", metavar="EXECUTION", help="an execution ARN or name")

    explain = subcommands.add_parser(
        "explain", parents=[common], help="the path a run took, from its history"
    )
    explain.add_argument("execution", metavar="EXECUTION", help="an execution ARN or name")
    explain.add_argument("--json", action="store_true", help="print the path as JSON")
    explain.add_argument(
        "--html", type=Path, metavar="FILE", help="also write a self-contained HTML report"
    )


def run(args: argparse.Namespace) -> int:
    """Run one operator command; every failure is one line on stderr."""
    try:
        since = _since(args.since) if args.command == "history" else None
        stack = _stack(args)
        deployment = connect(stack, profile=args.profile, region=args.region)
        if args.command == "status":
            return _status(commands.status(deployment), as_json=args.json)
        if args.command == "history":
            assert since is not None
            return _history(commands.history(deployment, since), as_json=args.json)
        if args.command == "replay":
            started = commands.replay(deployment, args.image)
            _out(f"started {started.name}: {json.dumps(started.input)}")
            _out(f"console {started.console_url}")
            return EXIT_OK
        if args.command == "redrive":
            redriven = commands.redrive(deployment, args.execution)
            _out(f"redrove {redriven.name}: now {redriven.status}")
            _out(f"console {redriven.console_url}")
            return EXIT_OK
        return _explain(commands.explain(deployment, args.execution), args)
    except Refused as exc:
        _err(f"pushgate {args.command}: refused: {exc}")
        return EXIT_REFUSED
    except OperatorError as exc:
        _err(f"pushgate {args.command}: {exc}")
        return EXIT_FAILED


def _stack(args: argparse.Namespace) -> StackRef:
    if args.stack:
        return StackRef(args.stack, None, None)
    return samconfig_stack(args.samconfig or default_samconfig(), args.config_env)


def _since(text: str, now: datetime | None = None) -> datetime:
    """The start of `--since`: a period back from now, or a UTC date not in the future."""
    now = now or datetime.now(UTC)
    period = _PERIOD.fullmatch(text)
    if period:
        amount, unit = int(period[1]), period[2]
        try:
            return now - timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
        except OverflowError:
            raise Refused(f"--since {text!r} reaches back before the year 1") from None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(
            f"--since {text!r}: expected 30m, 24h, 7d or a date like 2026-11-30"
        ) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when > now:
        raise Refused(f"--since {text!r} is in the future (now is {now:%Y-%m-%d %H:%M} UTC)")
    return when


def _status(found: commands.Status, *, as_json: bool) -> int:
    d = found.deployment
    serving, service = found.serving, found.service
    if as_json:
        _out(
            json.dumps(
                {
                    "environment": d.environment,
                    "stack": d.stack.name,
                    "region": d.region,
                    "serving": _serving_json(serving),
                    "service": vars(service) if service else None,
                    "cluster_found": found.cluster_found,
                    "runs": [r.to_json() for r in found.runs],
                },
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    lines = [f"pushgate status: {d.environment} (stack {d.stack.name}, {d.region})"]
    name = f"{d.outputs['ServiceName']} on {d.outputs['ClusterName']}"
    if service:
        state = SERVICE_GONE.get(service.status, service.status)
        lines.append(
            f"service   {name}: {'' if service.status == 'ACTIVE' else state + ', '}"
            f"{_short(service.task_definition)}, {service.running}/{service.desired} running"
        )
    else:
        gone = "" if found.cluster_found else f" (no cluster {d.outputs['ClusterName']})"
        lines.append(f"service   {name}: not found{gone}")
    if serving is None:
        lines.append("serving   nothing recorded yet (no run has succeeded)")
    else:
        tags = ", ".join(serving.tags) if serving.tags else "no tag"
        if not serving.in_repository:
            tags = "no longer in the repository"
        lines += [
            f"serving   {d.repository}@{serving.digest} ({tags})",
            f"          {_short(serving.task_definition or '?')}, pushed {serving.pushed_at}, "
            f"serving since {_when(serving.since)} (run {_name(serving.execution)}"
            + ("" if serving.run_kept else ": Step Functions no longer keeps its history")
            + ")",
            "schema    "
            + (serving.revision or "not in the serving record (written by an older pushgate)"),
        ]
        if serving.consecutive_failures is not None:
            lines.append(f"failures  {serving.consecutive_failures} in a row since it")
    if found.runs:
        lines += ["", f"last {len(found.runs)} runs:", *_table(found.runs, console=True)]
    else:
        lines += ["", "no runs kept by Step Functions (it keeps an ended run 90 days)"]
    _out("\n".join(lines))
    return EXIT_OK


def _history(runs: list[Run], *, as_json: bool) -> int:
    if as_json:
        _out(json.dumps([r.to_json() for r in runs], indent=2))
    else:
        _out("\n".join(_table(runs, console=False)))
    return EXIT_OK


def _explain(explained: commands.Explained, args: argparse.Namespace) -> int:
    run = explained.run
    rows = state_rows(explained.report)
    if args.json:
        _out(
            json.dumps(
                {**run.to_json(), "path": explained.report.path, "transitions": len(rows)},
                indent=2,
            )
        )
    else:
        width = max([len(r.name) for r in rows] + [20])
        lines = [
            f"pushgate explain: {run.name} ({run.outcome}, {run.status})",
            "",
            f"  {'#':>3}  {'state':<{width}}  {'took':>10}  outcome",
        ]
        for number, row in enumerate(rows, 1):
            took = _seconds(row.took_ms / 1000) if row.took_ms is not None else ""
            lines.append(f"  {number:>3}  {row.name:<{width}}  {took:>10}  {row.outcome}")
        lines += ["", f"console   {run.console_url}"]
        _out("\n".join(lines))
    if args.html is not None:
        from pushgate_cli.report_html import explained_page, write_page

        try:
            write_page(args.html, explained_page(explained))
        except OSError as exc:  # checked before the work; the report above stands
            _err(f"pushgate explain: cannot write --html {args.html}: {exc.strerror or exc}")
            return EXIT_FAILED
        _err(f"pushgate explain: wrote {args.html}")
    return EXIT_OK


def _table(runs: list[Run], *, console: bool) -> list[str]:
    width = max([len(r.name) for r in runs] + [9])
    lines = [f"  {'started (UTC)':<19}  {'outcome':<15}  {'took':>9}  {'execution':<{width}}"]
    for r in runs:
        took = _seconds(r.duration_s) if r.duration_s is not None else "running"
        line = f"  {r.started:%Y-%m-%d %H:%M:%S}  {r.outcome:<15}  {took:>9}  {r.name:<{width}}"
        lines.append(line + (f"  {r.console_url}" if console else ""))
    return lines


def _serving_json(serving: commands.Serving | None) -> dict[str, Any] | None:
    if serving is None:
        return None
    found = dict(vars(serving))
    found["since"] = serving.since.isoformat() if serving.since else None
    return found


def _name(execution: str | None) -> str:
    return execution.rsplit(":", 1)[-1] if execution else "?"


def _when(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if value else "unknown"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")
