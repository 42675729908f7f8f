"""Gap 9: ``$$.Execution.StartTime`` is an ISO 8601 string.

moto: the context object holds a ``datetime``, which breaks any state that writes it (to
DynamoDB, to an event, to the output).

AWS: a string such as ``2019-11-16T01:54:34.123Z`` (UTC, milliseconds).
"""

from __future__ import annotations

import datetime
from typing import Any

from pushgate_cli.offline.patching import Host, Patches


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original_environment = ExecutionWorker._get_evaluation_environment

    def evaluation_environment(worker: Any) -> Any:
        env = original_environment(worker)
        execution = env.states.context_object.context_object_data["Execution"]
        started: Any = execution.get("StartTime")  # typed str, but moto gives a datetime
        if isinstance(started, datetime.datetime):
            execution["StartTime"] = iso_millis(started)
        return env

    patches.set(ExecutionWorker, "_get_evaluation_environment", evaluation_environment)


def iso_millis(value: datetime.datetime) -> str:
    """`2019-11-16T01:54:34.123Z`, the way Step Functions writes times in the context object."""
    utc = value.astimezone(datetime.UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
