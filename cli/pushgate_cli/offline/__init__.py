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

Modules: ``machine`` (the class), ``report`` (what a run reports), ``patching`` (how patches
are installed and undone), ``lifecycle`` (gap 8) and ``gaps``, one module per gap, each with
the moto behaviour it corrects in its docstring and one ``install(patches, host)`` function.
Adding a patch is adding a module to ``gaps``. The gaps closed:

1. ``gap01_service_shapes``: service-integration parameters and responses in the API's
   PascalCase, times as ISO 8601 strings (moto's normalisation hooks are stubs).
2. ``gap02_jsonpath``: a definite JSONPath yields the value, not a one-element list.
3. ``gap03_lambda_in_process``: a registered handler runs in-process (moto needs Docker) and
   fails with Lambda's error shape, so Retry/Catch match the exception's class name.
4. ``gap04_no_sleeping``: Wait states and Retry back-offs are recorded
   (:attr:`ExecutionReport.waits`) and slept ``seconds * time_scale`` (default 0).
5. ``gap05_service_names``: aws-sdk service names map to botocore's (``elasticloadbalancingv2``
   -> ``elbv2``, ``sfn`` -> ``stepfunctions``, ...).
6. ``gap06_error_names``: aws-sdk errors are named ``Ecs.ServiceNotFoundException``, as AWS
   names them, not ``ecs.ServiceNotFoundException``.
7. ``gap07_event_capture``: every EventBridge entry put is kept
   (:meth:`OfflineStepFunctions.put_events`).
8. ``lifecycle``: executions are always named, and ``__exit__`` leaves ``mock_aws`` only once
   every execution is terminal (stragglers are stopped: ABORTED).
9. ``gap09_start_time``: ``$$.Execution.StartTime`` is an ISO 8601 string, not a ``datetime``.
10. ``gap10_quiet_handled_errors``: moto's evaluator no longer logs handled errors at ERROR.
11. ``gap11_parse_once``: a definition's syntax tree is parsed once per process, not per
    execution.
12. ``gap12_uncatchable_errors``: ``States.ALL`` neither catches nor retries ``States.Runtime``
    and ``States.DataLimitExceeded``: they end the execution, as in AWS.
13. ``gap13_task_token_waits``: a ``.waitForTaskToken`` task is answered during one tick of
    the world (:meth:`OfflineStepFunctions.on_token_wait`) or times out at once; both are
    recorded (``woken`` / ``timeout``), nothing sleeps.
14. ``gap14_isolated_dynamodb_transactions``: a DynamoDB transaction whose condition fails no
    longer puts back a copy of its tables over another thread's write (two executions asking
    for one deployment lock): the backend's item operations run one at a time.

Known remaining gaps (not fixed here):

- ``send_task_failure`` drops ``cause``; ``redrive_execution`` is not implemented.
- The 256 KiB payload quota is not enforced (no ``States.DataLimitExceeded``).
- JSONata is not wired in moto: use JSONPath.
- A Lambda handler is not stopped at its timeout (``get_remaining_time_in_millis`` does count
  down).
- Responses carry whatever extra fields moto adds beyond the API model, unrenamed.
- moto's ECS backend never progresses a deployment (it stays IN_PROGRESS on the old task
  definition); simulate progress with :meth:`OfflineStepFunctions.on_service_call`.
- Map and Parallel run moto's own code, untested here.
- Only one instance may be active at a time (the patches are process-wide).
"""

from pushgate_cli.offline.machine import OfflineStepFunctions
from pushgate_cli.offline.report import (
    ExecutionReport,
    ServiceCallHook,
    TokenWaitHook,
    WaitRecord,
)

__all__ = [
    "ExecutionReport",
    "OfflineStepFunctions",
    "ServiceCallHook",
    "TokenWaitHook",
    "WaitRecord",
]
