"""Gap 1: service-integration requests and responses are shaped by the API model, as in AWS.

moto: ``StateTaskService._normalise_parameters`` and ``_normalise_response`` are stubs, so an
aws-sdk task gets moto's raw response (``services[0].deployments[0].rolloutState``) and
``datetime`` values that ``States.JsonToString`` and the history cannot serialise.

AWS: parameters go in and fields come out in the API's PascalCase
(``$.Services[0].Deployments[0].RolloutState``), times as ISO 8601 strings. Here both are
normalised through the botocore operation model, and the ``on_service_call`` hooks see every
call's parameters (as boto3 names them) before it is made.
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, ServiceModel

from pushgate_cli.offline.patching import Host, Patches

_SERVICE_MODELS: dict[str, ServiceModel] = {}
_SERVICE_MODELS_LOCK = threading.Lock()


def install(patches: Patches, host: Host) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service,
    )

    def normalise_parameters(
        task: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        service, operation = _operation(task, boto_service_name, service_action_name)
        if operation.input_shape is not None:
            task._to_boto_request(parameters, operation.input_shape)
        host.service_called(service, operation.name, parameters)

    def normalise_response(
        task: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        _service, operation = _operation(task, boto_service_name, service_action_name)
        if operation.output_shape is not None:
            task._from_boto_response(response, operation.output_shape)
        _isoformat_in_place(response)

    service_cls = state_task_service.StateTaskService
    patches.set(service_cls, "_normalise_parameters", normalise_parameters)
    patches.set(service_cls, "_normalise_response", normalise_response)


def _operation(
    task: Any, boto_service_name: str | None, service_action_name: str | None
) -> tuple[str, OperationModel]:
    """The botocore service name and operation model of the call a task makes."""
    service = task._get_boto_service_name(boto_service_name)
    name = _operation_name(service, task._get_boto_service_action(service_action_name))
    return service, _service_model(service).operation_model(name)


def _service_model(service: str) -> ServiceModel:
    with _SERVICE_MODELS_LOCK:
        if service not in _SERVICE_MODELS:
            _SERVICE_MODELS[service] = botocore.session.get_session().get_service_model(service)
        return _SERVICE_MODELS[service]


def _operation_name(service: str, snake_action: str) -> str:
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
