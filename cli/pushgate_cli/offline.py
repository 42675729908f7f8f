"""Run Step Functions state machines offline, faithfully enough to trust the result.

moto 5.2.5 carries a port of LocalStack's ASL interpreter (switched on with
``mock_aws(config={"stepfunctions": {"execute_state_machine": True}})``). Out of the box it
differs from AWS in ways that change a run's result. :class:`OfflineStepFunctions` starts
``mock_aws`` with the interpreter on and closes those gaps with reversible patches, undone on
exit::

    with OfflineStepFunctions() as sfn:
        fn_arn = sfn.register_lambda("check_database", handler)
        machine = sfn.create_state_machine("deploy", definition_json)
        report = sfn.run(machine, {"repository": "app"}, name="run-1")
        report.status, report.path, report.waits, sfn.put_events()

Gaps closed (each patch is one small function below; moto module paths are relative to
``moto.stepfunctions.parser.asl``):

1. Service-integration requests and responses (``StateTaskService._normalise_parameters`` and
   ``_normalise_response``, stubs in moto) are normalised through the botocore operation
   model, like AWS: PascalCase parameters in, PascalCase fields out
   (``$.Services[0].Deployments[0].RolloutState``), and ``datetime`` values out as ISO 8601
   strings so ``States.JsonToString`` and the history can serialise them.
2. JSONPath (``utils.json_path.extract_json``, imported by name into about ten modules, so every
   module's reference is replaced): a *definite* path (only names and single indexes, such as
   ``$.a[0].b``) yields the value itself, an indefinite one (``[*]``, slices, filters, unions,
   ``..``) yields a list, ``[]`` when nothing matches. moto returned ``[value]`` for ``$.a[0].b``,
   which broke Choice, InputPath, ResultSelector and intrinsic arguments.
3. Lambda: a function registered with :meth:`OfflineStepFunctions.register_lambda` runs
   in-process (``moto.awslambda.models.LambdaFunction._invoke_lambda``; moto would need
   Docker). An exception becomes ``{"errorMessage", "errorType": class name, "stackTrace"}``
   with a function error, as real Lambda does, so Retry/Catch match the class name. This serves
   the plain function-ARN ``Resource``, ``arn:aws:states:::lambda:invoke`` and boto3 calls.
4. Wait states (``WaitFunction._wait_interval``) and Retry back-offs (``RetrierDecl``, which
   called ``time.sleep``) take no wall-clock time: the seconds are recorded per execution
   (:attr:`ExecutionReport.waits`) and slept ``seconds * time_scale`` (default 0).
5. aws-sdk service names map to botocore's (``elasticloadbalancingv2`` -> ``elbv2``,
   ``applicationautoscaling`` -> ``application-autoscaling``, ``sfn`` -> ``stepfunctions``, ...).
6. aws-sdk errors are named as AWS names them, ``ServiceName.ErrorCodeException`` in
   PascalCase (``Ecs.ServiceNotFoundException``, ``DynamoDb.ConditionalCheckFailedException``),
   per https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
   ("Both service name and error name are in PascalCase"; the Exception suffix is always
   added). moto used the lower-case resource name. Optimised integrations keep moto's names,
   which already match AWS (``DynamoDB.ConditionalCheckFailedException``, ``Lambda.*``).
7. Every entry put on EventBridge (``events:putEvents`` from the machine, or boto3 in a handler)
   is captured; :meth:`OfflineStepFunctions.put_events` returns them with ``Detail`` parsed.
8. Executions are always named (:meth:`OfflineStepFunctions.start` requires a name; moto named
   an unnamed one ``None``), and ``__exit__`` leaves ``mock_aws`` only once every execution is
   terminal (a worker still running afterwards would call localhost:5000; after 30 s, or 2 s
   when the block raised, the stragglers are stopped: ABORTED), then drops finished threads
   from moto's ever-growing ``TMP_THREADS``.
9. ``$$.Execution.StartTime`` is an ISO 8601 string (``2019-11-16T01:54:34.123Z``) as in AWS;
   moto put a ``datetime`` there, which broke any state that writes it (e.g. to DynamoDB).
10. moto's evaluator logs every error at ERROR, handled ones too (a Catch, a Choice reading an
    absent field); that logger is silenced while active: the history records what failed.
11. moto parses a definition (ANTLR, pure Python: about a second for a large machine) when it
    is created and for every execution; the syntax tree is kept per definition, and each
    execution still gets freshly built evaluation components.

Known remaining gaps (not fixed here):

- ``send_task_failure`` drops ``cause``; ``redrive_execution`` is not implemented.
- JSONata is not wired in moto: use JSONPath.
- A Lambda handler is not stopped at its timeout (``get_remaining_time_in_millis`` does count
  down); a handler's return value that is not JSON becomes ``Runtime.MarshalError``.
- Responses carry whatever extra fields moto adds beyond the API model, unrenamed.
- moto's ECS backend never progresses a deployment (it stays IN_PROGRESS on the old task
  definition); simulate progress with :meth:`OfflineStepFunctions.on_service_call`.
- Map and Parallel run moto's own code, untested here.
- Only one instance may be active at a time (the patches are process-wide).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import logging
import threading
import time
import traceback
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, NamedTuple

import boto3
import botocore.session
from botocore.model import ServiceModel

__all__ = [
    "ExecutionReport",
    "OfflineLambdaContext",
    "OfflineStepFunctions",
    "ServiceCallHook",
    "WaitRecord",
]

_TERMINAL_WAIT_S = 30.0  # executions still running then are stopped (ABORTED)
_STOP_WAIT_S = 2.0
_POLL_S = 0.002

# aws-sdk service name (as written in the Resource ARN) -> botocore service name.
_BOTO_SERVICE_NAMES: dict[str, str] = {
    "sfn": "stepfunctions",
    "states": "stepfunctions",
    "elasticloadbalancingv2": "elbv2",
    "applicationautoscaling": "application-autoscaling",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "secretsmanager": "secretsmanager",
}
# aws-sdk service name -> the PascalCase prefix of its error names (AWS convention, see 6.).
_ERROR_PREFIXES: dict[str, str] = {
    "acmpca": "AcmPca",
    "applicationautoscaling": "ApplicationAutoScaling",
    "cloudwatch": "CloudWatch",
    "cloudwatchlogs": "CloudWatchLogs",
    "dynamodb": "DynamoDb",
    "ecr": "Ecr",
    "ecs": "Ecs",
    "elasticloadbalancingv2": "ElasticLoadBalancingV2",
    "eventbridge": "EventBridge",
    "iam": "Iam",
    "lambda": "Lambda",
    "rds": "Rds",
    "s3": "S3",
    "secretsmanager": "SecretsManager",
    "sfn": "Sfn",
    "sns": "Sns",
    "sqs": "Sqs",
    "ssm": "Ssm",
}

ServiceCallHook = Callable[[str, str, dict[str, Any]], None]
"""``hook(boto_service, operation, parameters)``, e.g. ``("ecs", "DescribeServices", {...})``."""


class WaitRecord(NamedTuple):
    """A wait that took no wall-clock time: a Wait state or a Retry back-off."""

    state: str
    seconds: float
    kind: Literal["wait", "retry"]

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "seconds": self.seconds, "kind": self.kind}


@dataclass(frozen=True)
class ExecutionReport:
    """What a person checks after a run (console view: status, graph path, waits, history)."""

    execution_arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]
    path: list[str]
    waits: list[WaitRecord]
    transitions: int


@dataclass
class OfflineLambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    function_version: str = "$LATEST"
    deadline: float = field(default=0.0, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class _Lambda:
    handler: Callable[[Any, Any], Any]
    arn: str
    memory_mb: int
    timeout_s: int


class _Patches:
    """setattr that remembers the previous value, undone in reverse order."""

    _MISSING = object()

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def set(self, target: Any, name: str, value: Any) -> None:
        previous = vars(target).get(name, self._MISSING)
        self._undo.append((target, name, previous))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._undo:
            target, name, previous = self._undo.pop()
            if previous is self._MISSING:
                delattr(target, name)
            else:
                setattr(target, name, previous)


_ACTIVE_LOCK = threading.Lock()
_active: OfflineStepFunctions | None = None


class OfflineStepFunctions:
    """moto's ASL interpreter with its gaps closed; a context manager (see the module doc)."""

    def __init__(self, *, region: str = "us-east-1", time_scale: float = 0.0) -> None:
        self.region = region
        self.time_scale = time_scale
        self._mock: Any = None
        self._patches = _Patches()
        self._lock = threading.Lock()
        self._lambdas: dict[str, _Lambda] = {}
        self._waits: dict[str, list[WaitRecord]] = {}
        self._events: list[dict[str, Any]] = []
        self._executions: list[str] = []
        self._hooks: list[ServiceCallHook] = []
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
            self._apply_patches()
        except BaseException:
            self._patches.undo()
            if self._mock is not None:
                self._mock.stop()
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
        from moto.stepfunctions.parser.utils import TMP_THREADS

        try:
            self._wait_all_terminal(_TERMINAL_WAIT_S if exc_type is None else _STOP_WAIT_S)
        finally:
            self._patches.undo()
            self._mock.stop()
            TMP_THREADS[:] = [t for t in TMP_THREADS if t.is_alive()]
            with _ACTIVE_LOCK:
                _active = None

    def client(self, service: str) -> Any:
        """A boto3 client for the emulated account and region."""
        return boto3.client(service, region_name=self.region)

    @property
    def account_id(self) -> str:
        from moto.core.models import DEFAULT_ACCOUNT_ID

        return str(DEFAULT_ACCOUNT_ID)

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
        self._lambdas[function_name] = _Lambda(handler, arn, memory_mb, timeout_s)
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
        arn = str(started["executionArn"])
        with self._lock:
            self._executions.append(arn)
        return arn

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
            time.sleep(_POLL_S)
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

    def _wait_all_terminal(self, timeout_s: float) -> None:
        """Wait until no execution runs; stop (abort) the ones still running after timeout_s."""
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend: Any = stepfunctions_parser_backends[self.account_id][self.region]

        def running() -> list[Any]:
            return [
                e
                for machine in list(backend.state_machines)
                for e in list(machine.executions)
                if e.exec_status is None or e.exec_status.value == "RUNNING"
            ]

        deadline = time.monotonic() + timeout_s
        while running() and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        stragglers = running()
        for execution in stragglers:
            now = datetime.datetime.now(tz=datetime.UTC)
            execution.stop(now, "OfflineStepFunctions.Exit", "still running when the block ended")
        deadline = time.monotonic() + _STOP_WAIT_S
        while stragglers and any(t.is_alive() for t in _worker_threads()):
            if time.monotonic() > deadline:
                break
            time.sleep(_POLL_S)

    def _record_wait(self, env: Any, seconds: float, kind: Literal["wait", "retry"]) -> None:
        context = env.states.context_object.context_object_data
        record = WaitRecord(str(context["State"]["Name"]), float(seconds), kind)
        with self._lock:
            self._waits.setdefault(str(context["Execution"]["Id"]), []).append(record)

    def _invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        registered = self._lambdas[function.function_name]
        if isinstance(event, str | bytes):
            with contextlib.suppress(ValueError):
                event = json.loads(event)
        context = OfflineLambdaContext(
            function_name=function.function_name,
            invoked_function_arn=registered.arn,
            memory_limit_in_mb=registered.memory_mb,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{function.function_name}",
            log_stream_name=f"offline/[$LATEST]{uuid.uuid4().hex}",
            deadline=time.monotonic() + registered.timeout_s,
        )
        try:
            result = registered.handler(event, context)
        except Exception as ex:
            error = {
                "errorMessage": str(ex),
                "errorType": type(ex).__name__,
                "stackTrace": traceback.format_tb(ex.__traceback__),
            }
            return json.dumps(error), True, ""
        try:
            return json.dumps(result), False, ""
        except (TypeError, ValueError) as ex:
            error = {"errorMessage": str(ex), "errorType": "Runtime.MarshalError"}
            return json.dumps(error), True, ""

    def _apply_patches(self) -> None:
        import sys

        from jsonpath_ng.ext.parser import parse as jsonpath_parse
        from moto.awslambda.models import LambdaFunction
        from moto.events.models import EventsBackend
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.common.retry.max_attempts_decl import (
            MaxAttemptsOutcome,
        )
        from moto.stepfunctions.parser.asl.component.common.retry.retrier_outcome import (
            RetrierOutcome,
        )
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
            state_task_service,
            state_task_service_aws_sdk,
        )
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function import (
            wait_function,
        )
        from moto.stepfunctions.parser.asl.parse import asl_parser
        from moto.stepfunctions.parser.asl.utils import json_path

        offline = self
        patches = self._patches
        service_cls = state_task_service.StateTaskService
        aws_sdk_cls = state_task_service_aws_sdk.StateTaskServiceAwsSdk

        # 1. + 5. botocore-model normalisation of service integrations.
        def boto_service_name(task: Any, boto_service_name: str | None = None) -> str:
            name = boto_service_name or task.resource.api_name
            return _BOTO_SERVICE_NAMES.get(name, name)

        def normalise_parameters(
            task: Any,
            parameters: dict[str, Any],
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            service = task._get_boto_service_name(boto_service_name)
            operation = _operation_name(service, task._get_boto_service_action(service_action_name))
            shape = _service_model(service).operation_model(operation).input_shape
            if shape is not None:
                task._to_boto_request(parameters, shape)
            for hook in list(offline._hooks):
                hook(service, operation, parameters)

        def normalise_response(
            task: Any,
            response: Any,
            boto_service_name: str | None = None,
            service_action_name: str | None = None,
        ) -> None:
            service = task._get_boto_service_name(boto_service_name)
            operation = _operation_name(service, task._get_boto_service_action(service_action_name))
            shape = _service_model(service).operation_model(operation).output_shape
            if shape is not None:
                task._from_boto_response(response, shape)
            _isoformat_in_place(response)

        patches.set(service_cls, "_get_boto_service_name", boto_service_name)
        patches.set(service_cls, "_normalise_parameters", normalise_parameters)
        patches.set(service_cls, "_normalise_response", normalise_response)

        # 6. aws-sdk error names.
        def service_error_name(service_name: str) -> str:
            return _ERROR_PREFIXES.get(
                service_name.lower(), service_name[:1].upper() + service_name[1:]
            )

        def exception_name(norm_service_name: str, ex: Exception) -> str:
            response = getattr(ex, "response", None) or {}
            code = str(response.get("Error", {}).get("Code") or type(ex).__name__)
            code = code.rsplit("#", 1)[-1].split(":", 1)[0]  # "aws.protocol#Code:..." forms
            suffix = "" if code.endswith("Exception") else "Exception"
            return f"{norm_service_name}.{code}{suffix}"

        patches.set(aws_sdk_cls, "_normalise_service_error_name", staticmethod(service_error_name))
        patches.set(aws_sdk_cls, "_normalise_exception_name", staticmethod(exception_name))

        # 2. JSONPath: definite paths yield the value, indefinite ones a list.
        original_extract = json_path.extract_json

        def extract_json(path: str, data: Any) -> Any:
            expression = jsonpath_parse(path)
            matches = expression.find(data)
            if _is_definite(expression):
                if not matches:
                    raise json_path.NoSuchJsonPathError(json_path=path, data=data)
                return matches[0].value
            return [match.value for match in matches]

        for module in list(sys.modules.values()):
            name = getattr(module, "__name__", "")
            if name.startswith("moto.stepfunctions") and vars(module).get("extract_json") is (
                original_extract
            ):
                patches.set(module, "extract_json", extract_json)

        # 3. Lambda in-process.
        original_invoke = LambdaFunction._invoke_lambda

        def invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
            if function.function_name in offline._lambdas:
                return offline._invoke(function, event)
            return original_invoke(function, event)

        patches.set(LambdaFunction, "_invoke_lambda", invoke_lambda)

        # 4. Wait and Retry recorded, not slept.
        def wait_interval(function: Any, env: Any, wait_seconds: int) -> None:
            offline._record_wait(env, max(0, wait_seconds), "wait")
            if wait_seconds > 0 and offline.time_scale > 0:
                env.program_state_event.wait(wait_seconds * offline.time_scale)

        patches.set(wait_function.WaitFunction, "_wait_interval", wait_interval)

        def retrier_eval_body(retrier: Any, env: Any) -> None:
            # moto's RetrierDecl._eval_body, with time.sleep replaced by a record.
            retrier.error_equals.eval(env)
            if not env.stack.pop():
                env.stack.append(RetrierOutcome.Skipped)
                return
            retrier.max_attempts.eval(env=env)
            if env.stack.pop() == MaxAttemptsOutcome.EXHAUSTED:
                env.stack.append(RetrierOutcome.Failed)
                return
            retrier.interval_seconds.eval(env=env)
            retrier.backoff_rate.eval(env=env)
            retrier.max_delay_seconds.eval(env=env)
            retrier.jitter_strategy.eval(env=env)
            interval_seconds = float(env.stack.pop())
            offline._record_wait(env, interval_seconds, "retry")
            if interval_seconds > 0 and offline.time_scale > 0:
                time.sleep(interval_seconds * offline.time_scale)
            env.stack.append(RetrierOutcome.Executed)

        patches.set(retrier_decl.RetrierDecl, "_eval_body", retrier_eval_body)

        # 7. Capture EventBridge entries.
        original_put_events = EventsBackend.put_events

        def put_events(backend: Any, events: list[dict[str, Any]]) -> Any:
            captured = []
            for entry in events:
                copied = dict(entry)
                detail = copied.get("Detail")
                if isinstance(detail, str):
                    with contextlib.suppress(ValueError):
                        copied["Detail"] = json.loads(detail)
                captured.append(copied)
            with offline._lock:
                offline._events.extend(captured)
            return original_put_events(backend, events)

        patches.set(EventsBackend, "put_events", put_events)

        # 9. $$.Execution.StartTime is an ISO 8601 string in AWS; moto hands the datetime over.
        from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

        original_environment = ExecutionWorker._get_evaluation_environment

        def evaluation_environment(worker: Any) -> Any:
            env = original_environment(worker)
            execution = env.states.context_object.context_object_data["Execution"]
            started: Any = execution.get("StartTime")  # typed str, but moto gives a datetime
            if isinstance(started, datetime.datetime):
                execution["StartTime"] = _iso_millis(started)
            return env

        patches.set(ExecutionWorker, "_get_evaluation_environment", evaluation_environment)

        # 11. moto parses a definition with its ANTLR grammar (about a second for a real
        # deployment machine, in pure Python) when it is created and again for every execution.
        # The syntax tree of a definition is kept; each parse still builds fresh components.
        from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

        original_parse = asl_parser.AmazonStateLanguageParser.parse

        def parse(definition: str) -> tuple[Any, Any]:
            with _PARSE_LOCK:
                tree = _SYNTAX_TREES.get(definition)
            if tree is None:
                _program, tree = original_parse(definition)
                with _PARSE_LOCK:
                    _SYNTAX_TREES[definition] = tree
            return Preprocessor().visit(tree), tree

        patches.set(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse))

        # 10. moto logs every evaluation error at ERROR, also the ones the machine handles (a
        # Catch, a Choice reading an absent field): the history records what failed, so quiet.
        eval_log = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
        patches.set(eval_log, "disabled", True)


# -- helpers ----------------------------------------------------------------------------------

_SYNTAX_TREES: dict[str, Any] = {}  # definition -> moto's ANTLR syntax tree of it
_PARSE_LOCK = threading.Lock()
_SERVICE_MODELS: dict[str, ServiceModel] = {}
_SERVICE_MODELS_LOCK = threading.Lock()


def _iso_millis(value: datetime.datetime) -> str:
    """`2019-11-16T01:54:34.123Z`, the way Step Functions writes times in the context object."""
    utc = value.astimezone(datetime.UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _service_model(service: str) -> ServiceModel:
    with _SERVICE_MODELS_LOCK:
        if service not in _SERVICE_MODELS:
            _SERVICE_MODELS[service] = botocore.session.get_session().get_service_model(service)
        return _SERVICE_MODELS[service]


def _operation_name(service: str, snake_action: str) -> str:
    from botocore import xform_name

    for operation in _service_model(service).operation_names:
        if xform_name(operation) == snake_action:
            return str(operation)
    raise ValueError(f"{service} has no operation {snake_action}")


def _isoformat_in_place(value: Any) -> None:
    """Replace datetime values (at any depth) by ISO 8601 strings."""
    items: Any
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in list(items):
        if isinstance(item, datetime.date | datetime.datetime):
            value[key] = item.isoformat()
        else:
            _isoformat_in_place(item)


def _worker_threads() -> list[threading.Thread]:
    from moto.stepfunctions.parser.utils import TMP_THREADS

    return list(TMP_THREADS)


def _is_definite(expression: Any) -> bool:
    """True when a JSONPath can match one value at most: only names and single indexes."""
    from jsonpath_ng import jsonpath

    if isinstance(expression, jsonpath.Root | jsonpath.This):
        return True
    if isinstance(expression, jsonpath.Child):
        return _is_definite(expression.left) and _is_definite(expression.right)
    if isinstance(expression, jsonpath.Fields):
        return len(expression.fields) == 1 and expression.fields[0] != "*"
    if isinstance(expression, jsonpath.Index):
        return len(expression.indices) == 1
    return False
