"""The `pushgate` command: `pushgate rehearse` (the pipeline offline), `pushgate check-migrations`
(can the Lambda runner run this project?), `pushgate bench`, and the operator's commands against
a real account (`status`, `history`, `replay`, `redrive`, `explain`, in `pushgate_cli.operator`)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from pushgate.migrator.request import Source as MigrationsSource

from pushgate_cli.options import (
    OptionError,
    check_agreement,
    check_database_url,
    check_directory,
    check_output_file,
    check_service_python,
)
from pushgate_cli.scenarios import OUTCOMES, SCENARIOS  # not the rehearsal: it imports moto

EXIT_OK = 0
EXIT_UNEXPECTED = 1  # the run did not end as the scenario expects
EXIT_USAGE = 2  # bad option or input: nothing was run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushgate", description="A schema gate between an ECR push and the ECS service."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    rehearse_cmd = commands.add_parser(
        "rehearse",
        help="run the whole pipeline offline on the real state machine definition",
        description="Run template.yaml's state machine offline (moto) against a real "
        "PostgreSQL, with the Lambdas in-process, and show what happened. "
        "Exit 0 when the run ended as the scenario expects.",
    )
    rehearse_cmd.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="healthy",
        help="what the world does (default healthy): "
        + "; ".join(f"{s.name} = {s.summary} (expects {s.expect})" for s in SCENARIOS.values()),
    )
    rehearse_cmd.add_argument(
        "--migrations",
        type=Path,
        metavar="DIR",
        help="the alembic project to rehearse: a project root (alembic.ini or pyproject.toml) "
        "or a bare script directory (versions/, with or without env.py). It is packed into the "
        "pushed image under MigrationsPath, which run_migrations reads from a registry on "
        "loopback. Default: what the runner can run: examples/service with --runner task (its "
        "revisions import its own code), migrations/ with the Lambda runner",
    )
    rehearse_cmd.add_argument(
        "--migrations-source",
        choices=["image", "bundled"],
        help="where run_migrations reads the scripts (the template's MigrationsSource): image "
        "(the default: the pushed image's, by digest, from a real OCI registry: Debian's "
        "docker-registry started on loopback) or bundled (the function's own directory; the "
        "default with --event, whose digest no registry here holds)",
    )
    rehearse_cmd.add_argument(
        "--image",
        metavar="REF",
        help="rehearse an image already in a reachable registry (registry/repository@sha256:"
        "...): the push event carries its digest, and its scripts are read from there",
    )
    rehearse_cmd.add_argument(
        "--insecure-registry",
        action="store_true",
        help="allow plain HTTP to --image's registry (loopback only)",
    )
    rehearse_cmd.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL database to use instead of an embedded one: the rehearsal starts "
        "from wherever it is (it is moved first only with --start-revision) and migrates it",
    )
    rehearse_cmd.add_argument(
        "--pg-bin",
        type=Path,
        metavar="DIR",
        help="run the throw-away PostgreSQL from this directory's binaries (e.g. Debian's "
        "/usr/lib/postgresql/15/bin, whose postgresql-contrib has uuid-ossp and pgcrypto)",
    )
    rehearse_cmd.add_argument(
        "--event",
        type=Path,
        metavar="FILE",
        help="the execution input: a real ECR event or a replay input (JSON)",
    )
    rehearse_cmd.add_argument(
        "--start-revision",
        metavar="REV",
        help="move the database here first: previous (one below head), base, head, or a "
        "revision id. Default: previous for the embedded database; a --database-url is left "
        "where it is",
    )
    rehearse_cmd.add_argument(
        "--config-env",
        default="dev",
        metavar="ENV",
        help="the samconfig.toml environment whose parameters are rehearsed (default dev)",
    )
    rehearse_cmd.add_argument(
        "--parameter-overrides",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters on top of the environment's, as sam deploy takes them "
        "(e.g. SchemaPolicy=enforce)",
    )
    rehearse_cmd.add_argument(
        "--expect",
        choices=sorted(set(OUTCOMES.values()) | {"superseded", "error"}),
        metavar="STATUS",
        help="the status the run must end with (default: the scenario's), e.g. rejected for an "
        "--event that this stack must refuse",
    )
    rehearse_cmd.add_argument(
        "--runner",
        choices=["lambda", "task"],
        help="who runs the migrations (default: the --config-env environment's MigrationRunner): "
        "lambda = run_migrations; task = the service's own command in a one-off ECS task, "
        "really run here in --service-dir with --service-python",
    )
    rehearse_cmd.add_argument(
        "--service-dir",
        type=Path,
        metavar="DIR",
        help="the task runner's service files, as in the image (default: the --migrations "
        "project, else examples/service)",
    )
    rehearse_cmd.add_argument(
        "--service-python",
        type=Path,
        metavar="PATH",
        help="the task runner's interpreter (its bin/ goes first on PATH, so alembic is the "
        "service's); default: this venv's, which has what examples/service needs",
    )
    rehearse_cmd.add_argument(
        "--ledger",
        type=Path,
        metavar="FILE",
        help="keep the rehearsed deploy ledger in this JSON file: loaded before the run (if it "
        "exists), written after it, so a rehearsed beta deploy lets a prod rehearsal of the same "
        "digest through RequirePromotionFrom",
    )
    rehearse_cmd.add_argument("--json", action="store_true", help="print the result as JSON")
    rehearse_cmd.add_argument(
        "--html",
        type=Path,
        metavar="FILE",
        help="also write the run as one self-contained HTML page (graph, path, before/after)",
    )
    rehearse_cmd.add_argument(
        "--verbose", action="store_true", help="show the functions' logs and metrics on stderr"
    )

    check_cmd = commands.add_parser(
        "check-migrations",
        help="load an alembic project as the Lambda runner would and say whether it can run it",
        description="Print the revisions, head and version table, what env.py carried (it is "
        "bypassed) that needs a parameter, and which runner the project needs and why. Exit 0: "
        "the Lambda runner can run it; 1: it needs the task runner, or cannot run here; 2: bad "
        "usage.",
    )
    check_cmd.add_argument(
        "directory",
        metavar="DIR",
        help="a project root (alembic.ini or pyproject.toml) or a bare script directory",
    )

    bench_cmd = commands.add_parser(
        "bench",
        help="measure the performance budget of a deploy",
        description="Measure cold starts, package sizes (a real sam build), warm latency, the "
        "seed's per-task-start cost and a rehearsal's transitions and cost; print one table "
        "with PASS/OVER per budget and write it as JSON. Exit 0 even when OVER, 1 when a "
        "figure could not be measured.",
    )
    bench_cmd.add_argument(
        "--output",
        type=Path,
        default=Path("bench-results/bench.json"),
        metavar="FILE",
        help="where the JSON goes (default bench-results/bench.json)",
    )
    bench_cmd.add_argument(
        "--repeat", type=int, default=11, metavar="N", help="runs per figure; the median counts"
    )
    bench_cmd.add_argument(
        "--only",
        metavar="PART",
        help="measure one part alone: cold-starts, sizes, warm, image or rehearsal",
    )
    from pushgate_cli.operator.cli import add_commands

    add_commands(commands)
    return parser


# the files each command writes (option, attribute, whether the writer makes missing parent
# directories): checked before any work, so a run is never lost to an unwritable path
OUTPUT_FILES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "rehearse": (("--html", "html", True), ("--ledger", "ledger", False)),
    "explain": (("--html", "html", True),),
    "bench": (("--output", "output", True),),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        for option, attribute, makes_parents in OUTPUT_FILES.get(args.command, ()):
            path = getattr(args, attribute)
            if path is not None:
                check_output_file(option, path, makes_parents=makes_parents)
    except OptionError as exc:
        print(f"pushgate {args.command}: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    if args.command == "bench":
        from pushgate_cli.bench.command import run_bench

        return run_bench(output=args.output, repeat=args.repeat, only=args.only)
    if args.command == "check-migrations":
        return _check_migrations(args.directory)
    from pushgate_cli.operator.cli import COMMANDS, run

    if args.command in COMMANDS:
        return run(args)
    return _rehearse(args)


def _check_migrations(directory: str) -> int:
    from pushgate_cli.check_migrations import run, usage_error

    problem = usage_error(directory)  # as typed: Path("") would be the current directory
    if problem is not None:
        print(f"pushgate check-migrations: {problem}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    code, report = run(Path(directory))
    print(report)  # noqa: T201
    return code


# Step Functions refuses an execution input over 256 KiB as UTF-8 (its service quotas: "Maximum
# input or output size for a task, state, or execution").
MAX_EXECUTION_INPUT_BYTES = 256 * 1024


class EventFileError(Exception):
    """The --event file holds no execution input this stack's state machine is started with."""


def load_event(path: Path) -> dict[str, Any]:
    """The execution input in `path`: a JSON object (an ECR event or a replay request) that
    StartExecution would accept. EventFileError says why anything else is refused."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EventFileError(f"cannot read --event {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_EXECUTION_INPUT_BYTES:
        raise EventFileError(
            f"--event {path} is {len(raw)} bytes: Step Functions refuses an execution input "
            f"over {MAX_EXECUTION_INPUT_BYTES} bytes"
        )
    try:
        event = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        detail = exc if isinstance(exc, ValueError) else "nested too deeply"
        raise EventFileError(f"--event {path} is not JSON: {detail}") from None
    if not isinstance(event, dict):
        raise EventFileError(
            f"--event {path} holds {_json_kind(event)}, not an execution input: a JSON object, "
            'an ECR "ECR Image Action" event or a replay {"repository"?, "tag"?, "digest"?}'
        )
    return event


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    kinds = {bool: "a boolean", str: "a string", list: "an array", int: "a number"}
    return next((k for t, k in kinds.items() if isinstance(value, t)), "a number")


def _migrations_source(args: argparse.Namespace, overrides: dict[str, str]) -> MigrationsSource:
    """--migrations-source, else the override of MigrationsSource (_check_options has made sure
    they agree), else the default: bundled for an --event without --image, image otherwise."""
    given = args.migrations_source or overrides.get("MigrationsSource")
    if given is not None:
        return cast(MigrationsSource, given)
    return "bundled" if args.event is not None and args.image is None else "image"


def _check_options(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    """OptionError for an option that cannot be used, before anything starts: a path that is
    not what it names, a database that cannot be used, an option and a parameter override that
    disagree."""
    check_agreement("--migrations-source", args.migrations_source, overrides, "MigrationsSource")
    check_agreement("--runner", args.runner, overrides, "MigrationRunner")
    if args.image is not None and _migrations_source(args, overrides) == "bundled":
        where = (
            "--migrations-source bundled"
            if args.migrations_source is not None
            else "--parameter-overrides MigrationsSource=bundled"
        )
        raise OptionError(f"--image reads the scripts from an image: not with {where}")
    if args.migrations is not None:
        check_directory("--migrations", args.migrations)
    if args.service_dir is not None:
        check_directory("--service-dir", args.service_dir)
    if args.service_python is not None:
        check_service_python("--service-python", args.service_python)
    if args.database_url is not None:
        check_database_url("--database-url", args.database_url)


def parameter_overrides(pairs: Sequence[str]) -> dict[str, str]:
    """``Key=Value`` pairs, as sam deploy's --parameter-overrides; ValueError naming a bad one."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key.isidentifier():
            raise ValueError(f"--parameter-overrides {pair!r} is not Key=Value")
        overrides[key] = value
    return overrides


def _rehearse(args: argparse.Namespace) -> int:
    event: dict[str, Any] | None = None
    try:
        overrides = parameter_overrides(args.parameter_overrides)
    except ValueError as exc:
        print(f"pushgate rehearse: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    try:
        _check_options(args, overrides)
        if args.event is not None:
            event = load_event(args.event)
    except (OptionError, EventFileError) as exc:
        print(f"pushgate rehearse: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    from pushgate_cli.rehearse import RehearsalConfig, RehearsalError, rehearse

    config = RehearsalConfig(
        scenario=SCENARIOS[args.scenario],
        database_url=args.database_url,
        migrations_dir=args.migrations,
        migrations_source=_migrations_source(args, overrides),
        image=args.image,
        insecure_registry=args.insecure_registry,
        start_revision=args.start_revision,
        pg_bin=args.pg_bin,
        config_env=args.config_env,
        parameters=overrides,
        log_level="INFO" if args.verbose else "WARNING",
        expect=args.expect,
        runner=args.runner,
        service_dir=args.service_dir,
        service_python=args.service_python,
        ledger_file=args.ledger,
    )
    # The functions log (and emit metrics) as JSON on stdout, as in Lambda: here stdout is the
    # report's, so their output is kept aside and shown on stderr with --verbose or when the
    # run did not end as expected.
    function_output = io.StringIO()
    try:
        with contextlib.redirect_stdout(function_output):
            result = rehearse(config, event)
    except RehearsalError as exc:
        print(f"pushgate rehearse: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    if args.verbose or not result.ok:
        sys.stderr.write(function_output.getvalue())
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))  # noqa: T201
    else:
        from pushgate_cli.render import render

        print(render(result))  # noqa: T201
    code = EXIT_OK if result.ok else EXIT_UNEXPECTED
    if result.ledger_error is not None:  # the run happened: its report above stands
        print(f"pushgate rehearse: {result.ledger_error} (the run above happened)", file=sys.stderr)  # noqa: T201
        code = EXIT_UNEXPECTED
    if args.html is not None:
        from pushgate_cli.report_html import write_rehearsal_page

        try:
            written = write_rehearsal_page(args.html, result)
        except OSError as exc:
            print(  # noqa: T201
                f"pushgate rehearse: cannot write --html {args.html}: {exc.strerror or exc} "
                "(the run above happened)",
                file=sys.stderr,
            )
            return EXIT_UNEXPECTED
        print(f"pushgate rehearse: wrote {written}", file=sys.stderr)  # noqa: T201
    return code


if __name__ == "__main__":
    sys.exit(main())
