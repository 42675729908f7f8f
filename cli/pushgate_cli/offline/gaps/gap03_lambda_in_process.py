"""Gap 3: a registered Lambda function runs in-process, and fails the way Lambda fails.

moto: ``LambdaFunction._invoke_lambda`` runs the function's code in a Docker container.

AWS (and here, for a function registered with ``OfflineStepFunctions.register_lambda``): the
handler is called with the event and a context whose remaining time counts down from the
function's timeout. An exception becomes ``{"errorMessage", "errorType": class name,
"stackTrace"}`` with a function error, so Retry and Catch match the class name; a result that
is not JSON is ``Runtime.MarshalError``. This serves the plain function-ARN ``Resource``,
``arn:aws:states:::lambda:invoke`` and boto3 calls. Other functions keep moto's behaviour.
"""

from __future__ import annotations

import contextlib
import json
import traceback
from typing import Any

from pushgate_cli.lambda_context import LambdaContext
from pushgate_cli.offline.patching import Host, InProcessLambda, Patches


def install(patches: Patches, host: Host) -> None:
    from moto.awslambda.models import LambdaFunction

    original_invoke = LambdaFunction._invoke_lambda

    def invoke_lambda(function: Any, event: Any = None) -> tuple[str, bool, str]:
        registered = host.in_process_lambda(function.function_name)
        if registered is None:
            return original_invoke(function, event)
        return invoke(registered, function.function_name, event)

    patches.set(LambdaFunction, "_invoke_lambda", invoke_lambda)


def invoke(registered: InProcessLambda, function_name: str, event: Any) -> tuple[str, bool, str]:
    """Run the handler as Lambda would: ``(payload, is_function_error, logs)``."""
    if isinstance(event, str | bytes):
        with contextlib.suppress(ValueError):
            event = json.loads(event)
    context = LambdaContext.invocation(
        function_name,
        timeout_s=registered.timeout_s,
        memory_mb=registered.memory_mb,
        arn=registered.arn,
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
