"""Gap 5: aws-sdk service names map to botocore's.

moto: the service name in ``arn:aws:states:::aws-sdk:<service>:<action>`` is used as botocore's
service name, so ``elasticloadbalancingv2``, ``applicationautoscaling`` or ``sfn`` is an
unknown service.

AWS: those are the names the aws-sdk integration spells; they map to botocore's ``elbv2``,
``application-autoscaling``, ``stepfunctions``, ...
"""

from __future__ import annotations

from typing import Any

from pushgate_cli.offline.patching import Host, Patches

# aws-sdk service name (as written in the Resource ARN) -> botocore service name.
BOTO_SERVICE_NAMES: dict[str, str] = {
    "sfn": "stepfunctions",
    "states": "stepfunctions",
    "elasticloadbalancingv2": "elbv2",
    "applicationautoscaling": "application-autoscaling",
    "cloudwatchlogs": "logs",
    "eventbridge": "events",
    "secretsmanager": "secretsmanager",
}


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )

    def boto_service_name(task: Any, boto_service_name: str | None = None) -> str:
        name = boto_service_name or task.resource.api_name
        return BOTO_SERVICE_NAMES.get(name, name)

    patches.set(state_task_service.StateTaskService, "_get_boto_service_name", boto_service_name)
