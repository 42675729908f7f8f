"""`OfflineStepFunctions`: moto with its ASL interpreter on and every gap closed."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable, Collection
from types import TracebackType
from typing import Any

import boto3

from pushgate_cli.offline import lifecycle
from pushgate_cli.offline.patching import InProcessLambda, Patches, install_gaps
from pushgate_cli.offline.report import (
    ExecutionReport,
    ServiceCallHook,
    TokenWaitHook,
    WaitKind,
    WaitRecord,
)

_ACTIVE_LOCK = threading.Lock()
_active: OfflineStepFunctions | None = None


class OfflineStepFunctions:
    """moto's ASL interpreter with its gaps closed; a context manager (see the package doc).

    ``leave_open`` names gaps (modules of :mod:`pushgate_cli.offline.gaps`) not to close: the
    tests use it to show what moto does without a patch.
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        time_scale: float = 0.0,
        leave_open: Collection[str] = (),
    ) -> None:
        self.region = region
        self._time_scale = time_scale
        self._leave_open = frozenset(leave_open)
        self._mock: Any = None
        self._patches = Patches()
        self._lock = threading.Lock()
        self._lambdas: dict[str, InProcessLambda] = {}
        self._waits: dict[str, list[WaitRecord]] = {}
        self._events: list[dict[str, Any]] = []
        self._hooks: list[ServiceCallHook] = []
        self._token_hooks: list[TokenWaitHook] = []
        self._role_arn: str | None = None

    # -- life cycle -------------------------------------------------------------------------

    def __enter__(self) -> OfflineStepFunctions:
        global _active
        from moto import mock_aws
        from moto.core.config import DefaultConfig

        with _ACTIVE_LOCK:
            if _active is not None:
                raise RuntimeError("only one OfflineStepFunctions may be active at a time")
            _active = self
        try:
            config: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
            self._mock = mock_aws(config=config)
            self._mock.start()
            install_gaps(self._patches, self, leave_open=self._leave_open)
        except BaseException:
            self._patches.undo()
            if self._mock is not None:
                self._mock.stop()
            with _ACTIVE_LOCK:
                _active = None
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        global _active
        timeout_s = lifecycle.TERMINAL_WAIT_S if exc_type is None else lifecycle.STOP_WAIT_S
        try:
            lifecycle.wait_all_terminal(self.account_id, self.region, timeout_s)
        finally:
            self._patches.undo()
            self._mock.stop()
            lifecycle.forget_finished_workers()
            with _ACTIVE_LOCK:
                _active = None

    def client(self, service: str) -> Any:
        """A boto3 client for the emulated account and region."""
        return boto3.client(service, region_name=self.region)

    @property
    def account_id(self) -> str:
        from moto.core.models import DEFAULT_ACCOUNT_ID

        return str(DEFAULT_ACCOUNT_ID)

    @property
    def time_scale(self) -> float:
        """Seconds really slept per simulated second of a Wait or a Retry back-off."""
        return self._time_scale

    # -- resources --------------------------------------------------------------------------

    def register_lambda(
        self,
        function_name: str,
        handler: Callable[[Any, Any], Any],
        *,
        memory_mb: int = 256,
        timeout_s: int = 60,
    ) -> str:
        """Create the function in moto's Lambda and run ``handler(event, context)`` on invoke."""
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
        created = self.client("lambda").create_function(
            FunctionName=function_name,
            Runtime="python3.13",
            Role=self._role(),
            Handler="app.lambda_handler",
            Code={"ZipFile": archive.getvalue()},
            MemorySize=memory_mb,
            Timeout=timeout_s,
        )
        arn = str(created["FunctionArn"])
        self._lambdas[function_name] = InProcessLambda(handler, arn, memory_mb, timeout_s)
        return arn

    def create_state_machine(self, name: str, definition: str) -> str:
        """Create a STANDARD state machine from ASL text; returns its ARN."""
        created = self.client("stepfunctions").create_state_machine(
            name=name, definition=definition, roleArn=self._role()
        )
        return str(created["stateMachineArn"])

    def on_service_call(self, hook: ServiceCallHook) -> None:
        """Call ``hook(boto_service, operation, parameters)`` before every service-integration
        call a state makes (aws-sdk and optimised ones), e.g. to advance moto's ECS backend."""
        self._hooks.append(hook)

    def on_token_wait(self, hook: TokenWaitHook) -> None:
        """Call ``hook(execution_arn, state_name)`` when a ``.waitForTaskToken`` task waits for
        its token (gap 13): what the world does meanwhile (e.g. ECS finishing a rollout and its
        event waking the task) happens in the hook; no answer by its end is the timeout."""
        self._token_hooks.append(hook)

    def put_events(self) -> list[dict[str, Any]]:
        """Every EventBridge entry put so far, in order, ``Detail`` parsed from JSON."""
        with self._lock:
            return [dict(e) for e in self._events]

    # -- executions -------------------------------------------------------------------------

    def start(self, state_machine_arn: str, execution_input: Any, *, name: str) -> str:
        """Start an execution (always named); returns its ARN without waiting."""
        started = self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
        return str(started["executionArn"])

    def wait(self, execution_arn: str, *, timeout_s: float = 60) -> ExecutionReport:
        """Wait until the execution is terminal and report it; TimeoutError after timeout_s."""
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout_s
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout_s} s")
            time.sleep(lifecycle.POLL_S)
        history: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = sfn.get_execution_history(**kwargs)
            history.extend(page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        path = [
            str(e["stateEnteredEventDetails"]["name"])
            for e in history
            if "stateEnteredEventDetails" in e
        ]
        output = described.get("output")
        with self._lock:
            waits = list(self._waits.get(execution_arn, []))
        return ExecutionReport(
            execution_arn=execution_arn,
            status=str(described["status"]),
            output=json.loads(output) if output is not None else None,
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
            path=path,
            waits=waits,
            transitions=len(path),
        )

    def run(
        self, state_machine_arn: str, execution_input: Any, *, name: str, timeout_s: float = 60
    ) -> ExecutionReport:
        """Start an execution and wait for its report."""
        execution_arn = self.start(state_machine_arn, execution_input, name=name)
        return self.wait(execution_arn, timeout_s=timeout_s)

    # -- what the gap patches use (pushgate_cli.offline.patching.Host) ------------------------

    def service_called(self, service: str, operation: str, parameters: dict[str, Any]) -> None:
        for hook in list(self._hooks):
            hook(service, operation, parameters)

    def in_process_lambda(self, function_name: str) -> InProcessLambda | None:
        return self._lambdas.get(function_name)

    def record_wait(self, env: Any, seconds: float, kind: WaitKind) -> None:
        context = env.states.context_object.context_object_data
        record = WaitRecord(str(context["State"]["Name"]), float(seconds), kind)
        with self._lock:
            self._waits.setdefault(str(context["Execution"]["Id"]), []).append(record)

    def token_waiting(self, env: Any) -> None:
        context = env.states.context_object.context_object_data
        for hook in list(self._token_hooks):
            hook(str(context["Execution"]["Id"]), str(context["State"]["Name"]))

    def capture_events(self, entries: list[dict[str, Any]]) -> None:
        with self._lock:
            self._events.extend(entries)

    # -- internals --------------------------------------------------------------------------

    def _role(self) -> str:
        if self._role_arn is None:
            trust = {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
            role = self.client("iam").create_role(
                RoleName="pushgate-offline", AssumeRolePolicyDocument=json.dumps(trust)
            )
            self._role_arn = str(role["Role"]["Arn"])
        return self._role_arn
