"""The account an operator command talks to: session, stack, the names in its outputs."""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.operator.errors import (
    AwsCallFailed,
    NoCredentials,
    NoRegion,
    OperatorError,
    Refused,
    StackNotFound,
)
from pushgate_cli.template import samconfig_environments

# the outputs of template.yaml the commands read (a test keeps them equal to the template's)
REQUIRED_OUTPUTS = (
    "DeployStateMachineArn",
    "LockTableName",
    "ServingRecordId",
    "RepositoryName",
    "ClusterName",
    "ServiceName",
    "EnvironmentName",
)
_CREDENTIAL_ERRORS = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
}


@dataclass(frozen=True)
class StackRef:
    """Which stack: its name and the region samconfig.toml deploys it to (if it says)."""

    name: str
    region: str | None
    config_env: str | None


def samconfig_stack(path: Path, config_env: str) -> StackRef:
    """The `stack_name` and `region` samconfig.toml gives `sam deploy --config-env ENV`."""
    try:
        config = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise OperatorError(f"cannot read {path}: {exc}") from exc
    section = config.get(config_env)
    if not isinstance(section, dict):
        known = sorted(samconfig_environments(config))
        raise Refused(f"{path.name} has no environment {config_env!r} (it has: {', '.join(known)})")
    parameters = section.get("deploy", {}).get("parameters", {})
    name = parameters.get("stack_name")
    if not isinstance(name, str) or not name:
        raise OperatorError(f"{path.name} gives environment {config_env!r} no stack_name")
    region = parameters.get("region")
    return StackRef(name, region if isinstance(region, str) else None, config_env)


def default_samconfig() -> Path:
    """samconfig.toml of the current directory, else of this checkout."""
    here = Path("samconfig.toml")
    return here if here.is_file() else REPO_ROOT / "samconfig.toml"


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn the botocore errors an operator meets into one line each."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError:
        raise NoCredentials(
            "no AWS credentials: set AWS_PROFILE (or --profile), run `aws sso login`, "
            "or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        ) from None
    except botocore.exceptions.NoRegionError:
        raise NoRegion("no AWS region: pass --region or set AWS_DEFAULT_REGION") from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AwsCallFailed(
            f"cannot reach {exc.kwargs.get('endpoint_url')} ({what}): "
            "check the region and AWS_ENDPOINT_URL"
        ) from None
    except botocore.exceptions.ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code in _CREDENTIAL_ERRORS:
            raise NoCredentials(
                f"AWS refused the credentials ({code}): {error.get('Message')}"
            ) from None
        raise AwsCallFailed(f"{what} failed: {code}: {error.get('Message')}") from None
    except botocore.exceptions.BotoCoreError as exc:
        raise AwsCallFailed(f"{what} failed: {exc}") from None


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@dataclass(frozen=True)
class Deployment:
    """One environment's stack: a session in its region and the names its outputs give."""

    session: boto3.Session
    stack: StackRef
    region: str
    outputs: Mapping[str, str]
    clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def client(self, service: str) -> Any:
        """One client per service, in the stack's region (endpoint: AWS_ENDPOINT_URL & co)."""
        if service not in self.clients:
            self.clients[service] = self.session.client(service, region_name=self.region)
        return self.clients[service]

    @property
    def state_machine_arn(self) -> str:
        return self.outputs["DeployStateMachineArn"]

    @property
    def environment(self) -> str:
        return self.outputs["EnvironmentName"]

    @property
    def repository(self) -> str:
        return self.outputs["RepositoryName"]


def connect(stack: StackRef, *, profile: str | None, region: str | None) -> Deployment:
    """The session (profile and region the AWS way, then samconfig's region) and the stack."""
    try:
        session = boto3.Session(profile_name=profile)
    except botocore.exceptions.ProfileNotFound:
        raise NoCredentials(f"no AWS profile {profile!r} in ~/.aws/config") from None
    chosen = region or session.region_name or stack.region
    if not chosen:
        raise NoRegion(
            "no AWS region: pass --region, set AWS_DEFAULT_REGION, or give one in samconfig"
        )
    cloudformation = session.client("cloudformation", region_name=chosen)
    with aws_errors(f"reading stack {stack.name}"):
        try:
            described = cloudformation.describe_stacks(StackName=stack.name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "ValidationError":  # CloudFormation's "does not exist"
                raise
            raise StackNotFound(_not_found(stack, chosen)) from None
    found = described["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise StackNotFound(
            f"stack {stack.name} in {chosen} has no output {', '.join(missing)}: is it a "
            "pushgate stack, deployed from this version of template.yaml?"
        )
    return Deployment(session, stack, chosen, outputs)


def _not_found(stack: StackRef, region: str) -> str:
    line = f"stack {stack.name} not found in region {region}"
    if stack.region and stack.region != region:
        line += f" (samconfig.toml deploys {stack.config_env} to {stack.region}: wrong region?)"
    elif stack.config_env:
        line += f": deploy it with `sam deploy --config-env {stack.config_env}`"
    return line
