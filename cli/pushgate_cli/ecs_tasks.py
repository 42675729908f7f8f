"""Make moto's ECS one-off tasks really run their command, as the task runner needs.

moto's ``RunTask`` records a task RUNNING forever and runs nothing. :class:`EcsTaskEmulator`
patches the backend so that a task started with a container command override (the migration
task) really runs that command, as ECS would run it in the image:

- in the service's directory (the image's files: ``--service-dir``, ``--migrations``' project;
  another image's, by digest, in ``image_dirs``);
- with the service's interpreter first on ``PATH`` (``--service-python``), so ``alembic`` is the
  service's own;
- with the container's environment as ECS builds it: the task definition's ``environment``, its
  ``secrets`` resolved from Secrets Manager (``valueFrom`` a secret ARN: the secret's string),
  then the override's ``environment`` (``PGOPTIONS``, ``PGAPPNAME``).

Its output goes to moto's CloudWatch Logs where the container's ``awslogs`` options say
(``<prefix>/<container>/<task id>``). When the command exits, the container is STOPPED with its
exit code, and the task stays RUNNING while its other containers (an essential sidecar) run, as
on ECS, until ``StopTask``. A ``DescribeTasks`` waits up to ``poll_wait_seconds`` of real time for
a running command (time passes for the task while the state machine waits). ``StopTask`` kills a
command still running. With ``start=TaskStart.NEVER_STARTS`` the task stops at once with
``TaskFailedToStart`` (an image ECS could not pull) and nothing runs.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.ecs.models import EC2ContainerServiceBackend
from moto.logs.models import logs_backends

from pushgate_cli.scenarios import TaskStart


@dataclass
class TaskRun:
    """One command the emulator really ran."""

    task_arn: str
    command: list[str]
    environment: dict[str, str]
    process: subprocess.Popen[str] | None
    container: str
    log: tuple[str, str] | None  # (group, stream) of its awslogs output
    output: str = ""
    exit_code: int | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0  # the command's run time, once it exited


@dataclass
class EcsTaskEmulator:
    """Patch moto's ECS backend so one-off tasks run. Use as ``with emulator.installed(): ...``."""

    service_dir: Path
    service_python: Path
    start: TaskStart = TaskStart.RUNS
    poll_wait_seconds: float = 5.0
    # the files of other images, by digest (an image pushed with another project); any other
    # image's files are service_dir's
    image_dirs: dict[str, Path] = field(default_factory=dict)
    runs: list[TaskRun] = field(default_factory=list)
    waited_seconds: float = 0.0  # real time DescribeTasks spent waiting for commands (time passing)
    _by_arn: dict[str, TaskRun] = field(default_factory=dict)

    @contextmanager
    def installed(self) -> Iterator[EcsTaskEmulator]:
        original_run = EC2ContainerServiceBackend.run_task
        original_describe = EC2ContainerServiceBackend.describe_tasks
        original_stop = EC2ContainerServiceBackend.stop_task
        emulator = self

        def run_task(backend: EC2ContainerServiceBackend, *args: Any, **kwargs: Any) -> Any:
            tasks = original_run(backend, *args, **kwargs)
            for task in tasks:
                emulator._started(backend, task)
            return tasks

        def describe_tasks(
            backend: EC2ContainerServiceBackend, cluster: str, arns: list[str]
        ) -> Any:
            tasks = original_describe(backend, cluster, arns)
            for task in tasks:
                emulator._look(task)
            return tasks

        def stop_task(
            backend: EC2ContainerServiceBackend, cluster: str, arn: str, reason: str
        ) -> Any:
            task = original_stop(backend, cluster, arn, reason)
            emulator._stopped(task, reason)
            return task

        try:
            with (
                patch.object(EC2ContainerServiceBackend, "run_task", run_task),
                patch.object(EC2ContainerServiceBackend, "describe_tasks", describe_tasks),
                patch.object(EC2ContainerServiceBackend, "stop_task", stop_task),
                # moto's awsvpc task reads an attribute its network interface lacks
                patch.object(
                    NetworkInterface, "private_dns_name", property(_private_dns_name), create=True
                ),
            ):
                yield self
        finally:
            for run in self.runs:
                if run.process is not None and run.process.poll() is None:
                    run.process.kill()
                    run.process.communicate()

    # --- the emulation -----------------------------------------------------------------------
    def _started(self, backend: EC2ContainerServiceBackend, task: Any) -> None:
        definition = backend.describe_task_definition(task.task_definition_arn)
        overrides = {o.get("name"): o for o in task.overrides.get("containerOverrides", [])}
        now = datetime.now(UTC)
        task._transitions = []  # the emulator, not moto's state manager, says where it is
        task.status = "RUNNING"
        task.created_at = now
        containers = []
        run: TaskRun | None = None
        directory: Path | None = None
        for spec in definition.container_definitions:
            name = str(spec.get("name"))
            override = overrides.get(name)
            containers.append({"name": name, "image": spec.get("image"), "lastStatus": "RUNNING"})
            if override is None or not override.get("command"):
                continue
            environment = self._environment(backend, spec, override)
            directory = self.image_dirs.get(str(spec.get("image")).rpartition("@")[2])
            run = TaskRun(
                task.task_arn,
                list(override["command"]),
                environment,
                None,
                name,
                self._log_of(spec, task),
            )
        task.containers = containers
        if self.start is TaskStart.NEVER_STARTS:
            for container in containers:
                container.update(
                    lastStatus="STOPPED",
                    reason="CannotPullContainerError: pull access denied for the image (emulated)",
                )
            task.status = "STOPPED"
            task.desired_status = "STOPPED"
            task.stop_code = "TaskFailedToStart"
            task.stopped_reason = "CannotPullContainerError: the image could not be pulled"
            return
        task.started_at = now
        if run is None:
            return
        path = f"{self.service_python.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        run.process = subprocess.Popen(
            run.command,
            cwd=directory or self.service_dir,
            env={"PATH": path, "HOME": str(Path.home()), **run.environment},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        run.started = time.monotonic()
        self.runs.append(run)
        self._by_arn[task.task_arn] = run

    def _environment(
        self, backend: EC2ContainerServiceBackend, spec: dict[str, Any], override: dict[str, Any]
    ) -> dict[str, str]:
        values = {str(e["name"]): str(e["value"]) for e in spec.get("environment") or []}
        secrets = boto3.client("secretsmanager", region_name=backend.region_name)
        for secret in spec.get("secrets") or []:  # as the execution role reads them
            found = secrets.get_secret_value(SecretId=secret["valueFrom"])
            values[str(secret["name"])] = str(found["SecretString"])
        values.update({str(e["name"]): str(e["value"]) for e in override.get("environment") or []})
        return values

    @staticmethod
    def _log_of(spec: dict[str, Any], task: Any) -> tuple[str, str] | None:
        config = spec.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            return None
        task_id = str(task.task_arn).rsplit("/", 1)[-1]
        prefix = options.get("awslogs-stream-prefix", "ecs")
        return str(options["awslogs-group"]), f"{prefix}/{spec.get('name')}/{task_id}"

    def _look(self, task: Any) -> None:
        run = self._by_arn.get(task.task_arn)
        if run is None or run.process is None:
            return
        if run.exit_code is None:
            waiting = time.monotonic()
            try:
                run.process.wait(timeout=self.poll_wait_seconds)
            except subprocess.TimeoutExpired:
                task.status = "RUNNING"
                return
            finally:
                self.waited_seconds += time.monotonic() - waiting
            self._exited(task, run)
        if getattr(task, "stop_code", None) is None:
            task.status = "RUNNING"  # the sidecar runs on, until StopTask

    def _exited(self, task: Any, run: TaskRun) -> None:
        assert run.process is not None
        out, _ = run.process.communicate()
        run.output = out or ""
        run.exit_code = run.process.returncode
        run.seconds = time.monotonic() - run.started
        for container in task.containers:
            if container["name"] == run.container:
                container.update(lastStatus="STOPPED", exitCode=run.exit_code)
        self._write_log(task, run)

    def _write_log(self, task: Any, run: TaskRun) -> None:
        if run.log is None:
            return
        group, stream = run.log
        logs = logs_backends[task._account_id][task.region_name]
        if group not in logs.groups:
            logs.create_log_group(group, {})
        logs.create_log_stream(group, stream)
        stamp = int(time.time() * 1000)
        lines = run.output.splitlines() or [""]
        logs.put_log_events(
            group,
            stream,
            [{"timestamp": stamp + i, "message": line} for i, line in enumerate(lines)],
        )

    def _stopped(self, task: Any, reason: str) -> None:
        run = self._by_arn.get(task.task_arn)
        if run is not None and run.process is not None and run.exit_code is None:
            run.process.kill()  # as ECS's SIGKILL after the stop timeout
            self._exited(task, run)
        for container in task.containers:
            container["lastStatus"] = "STOPPED"
        task.status = "STOPPED"
        task.stop_code = "UserInitiated"
        task.stopped_reason = reason
        task.stopped_at = datetime.now(UTC)


def _private_dns_name(eni: Any) -> str:
    return f"ip-{str(eni.private_ip_address).replace('.', '-')}.ec2.internal"


def default_service_python() -> Path:
    """This process's interpreter's venv (which has alembic, SQLAlchemy and psycopg)."""
    import sys

    return Path(sys.executable)
