"""Gap 6: aws-sdk errors are named as AWS names them, ``Service.ErrorCodeException``.

moto: the error of a failed aws-sdk call is prefixed with the lower-case resource name
(``ecs.ServiceNotFoundException``), so a Catch on the AWS name never matches.

AWS: "Both service name and error name are in PascalCase" and the Exception suffix is always
added (``Ecs.ServiceNotFoundException``, ``DynamoDb.ConditionalCheckFailedException``), per
https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html.
Optimised integrations keep moto's names, which already match AWS
(``DynamoDB.ConditionalCheckFailedException``, ``Lambda.*``).
"""

from __future__ import annotations

from pushgate_cli.offline.patching import Host, Patches

# aws-sdk service name -> the PascalCase prefix of its error names.
ERROR_PREFIXES: dict[str, str] = {
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


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
    )

    aws_sdk_cls = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    patches.set(aws_sdk_cls, "_normalise_service_error_name", staticmethod(service_error_name))
    patches.set(aws_sdk_cls, "_normalise_exception_name", staticmethod(exception_name))


def service_error_name(service_name: str) -> str:
    return ERROR_PREFIXES.get(service_name.lower(), service_name[:1].upper() + service_name[1:])


def exception_name(norm_service_name: str, ex: Exception) -> str:
    response = getattr(ex, "response", None) or {}
    code = str(response.get("Error", {}).get("Code") or type(ex).__name__)
    code = code.rsplit("#", 1)[-1].split(":", 1)[0]  # "aws.protocol#Code:..." forms
    suffix = "" if code.endswith("Exception") else "Exception"
    return f"{norm_service_name}.{code}{suffix}"
