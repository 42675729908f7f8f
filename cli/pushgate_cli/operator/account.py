"""The account an operator command talks to: session, stack, the names in its outputs."""

from __future__ import annotations

import collections
import contextlib
import html
import re
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
    AwsConfigUnreadable,
    NoCredentials,
    NoRegion,
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
_PROVIDERS = {"custom-process": "the profile's credential_process"}  # botocore's names
_TAG = re.compile(r"<[^>]*>")
_LINE_MAX = 200


@dataclass(frozen=True)
class StackRef:
    """Which stack: its name and the region samconfig.toml deploys it to (if it says)."""

    name: str
    region: str | None
    config_env: str | None


def samconfig_stack(path: Path, config_env: str) -> StackRef:
    """The `stack_name` and `region` samconfig.toml gives `sam deploy --config-env ENV`.

    Every problem with the file is bad input (`Refused`): the operator named it, or runs in
    the directory holding it.
    """
    try:
        config = tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise Refused(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError as exc:
        raise Refused(
            f"{path} is not UTF-8 text (byte {exc.start}): not a samconfig.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise Refused(f"{path} is not TOML: {one_line(exc)}") from None
    section = config.get(config_env)
    if not isinstance(section, dict):
        known = sorted(samconfig_environments(config))
        raise Refused(f"{path.name} has no environment {config_env!r} (it has: {', '.join(known)})")
    deploy = section.get("deploy", {})
    parameters = deploy.get("parameters", {}) if isinstance(deploy, dict) else None
    if not isinstance(parameters, dict):
        raise Refused(
            f"{path.name}: environment {config_env!r} has no [{config_env}.deploy.parameters] table"
        )
    name = parameters.get("stack_name")
    if not isinstance(name, str) or not name:
        raise Refused(f"{path.name} gives environment {config_env!r} no stack_name")
    region = parameters.get("region")
    if region is not None and not isinstance(region, str):
        raise Refused(f"{path.name} gives environment {config_env!r} a region that is not a string")
    return StackRef(name, region, config_env)


def default_samconfig() -> Path:
    """samconfig.toml of the current directory, else of this checkout."""
    here = Path("samconfig.toml")
    return here if here.is_file() else REPO_ROOT / "samconfig.toml"


# botocore's own errors (not the services' replies): what each means to an operator, as the
# error to raise and its line, filled from the error's fields (`what`: the call being made);
# the first that matches wins. A CredentialRetrievalError's message carries the provider's own
# output (a credential_process's stderr), which may hold a secret: only the provider is named.
_BOTOCORE_ERRORS: tuple[tuple[type[Exception], type[Exception], str], ...] = (
    (
        botocore.exceptions.NoCredentialsError,
        NoCredentials,
        "no AWS credentials: set AWS_PROFILE (or --profile), run `aws sso login`, "
        "or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    ),
    (
        botocore.exceptions.PartialCredentialsError,
        NoCredentials,
        "partial AWS credentials in {provider}: {cred_var} is missing",
    ),
    (
        botocore.exceptions.CredentialRetrievalError,
        NoCredentials,
        "getting AWS credentials from {provider} failed ({what}); its output is not shown "
        "(it may hold a secret): run it by hand to see why",
    ),
    (
        botocore.exceptions.ProfileNotFound,
        NoCredentials,
        "no AWS profile {profile!r} in ~/.aws/config",
    ),
    (
        botocore.exceptions.ConfigParseError,
        AwsConfigUnreadable,
        "cannot parse the AWS config file {path}: fix it, or point AWS_CONFIG_FILE at another",
    ),
    (
        botocore.exceptions.InvalidRegionError,
        Refused,
        "{region_name!r} is not an AWS region name "
        "(from --region, AWS_DEFAULT_REGION, the profile or samconfig.toml)",
    ),
    (
        botocore.exceptions.NoRegionError,
        NoRegion,
        "no AWS region: pass --region or set AWS_DEFAULT_REGION",
    ),
    (
        botocore.exceptions.EndpointConnectionError,
        AwsCallFailed,
        "cannot reach {endpoint_url} ({what}): check the region and AWS_ENDPOINT_URL",
    ),
)


@contextlib.contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """Turn the botocore errors an operator meets into one line each (exit codes: cli.py)."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        raise _service_error(exc, what) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise _botocore_error(exc, what) from None


def _service_error(exc: botocore.exceptions.ClientError, what: str) -> Exception:
    """A service's error reply: its code and the first line of its message."""
    code = error_code(exc)
    message = one_line(exc.response.get("Error", {}).get("Message"))
    if code in _CREDENTIAL_ERRORS:
        return NoCredentials(f"AWS refused the credentials ({code}): {message}")
    return AwsCallFailed(f"{what} failed: {code}: {message}")


def _botocore_error(exc: botocore.exceptions.BotoCoreError, what: str) -> Exception:
    fields = collections.defaultdict(lambda: "?", {**exc.kwargs, "what": what})
    fields["provider"] = _PROVIDERS.get(fields["provider"], fields["provider"])
    for kind, error, line in _BOTOCORE_ERRORS:
        if isinstance(exc, kind):
            return error(line.format_map(fields))
    return AwsCallFailed(f"{what} failed: {one_line(exc)}")


def one_line(message: object) -> str:
    """The first line of an error message, trimmed; of an HTML error page, its first text."""
    text = str(message or "").strip()
    if text[:15].lower().startswith(("<!doctype", "<html")):
        text = html.unescape(_TAG.sub("\n", text))
    first = next((line.strip() for line in text.splitlines() if line.strip()), "(no message)")
    return first if len(first) <= _LINE_MAX else first[: _LINE_MAX - 1] + "…"


def new_client(session: boto3.Session, service: str, region: str) -> Any:
    """A client of `service` in `region`; creating it resolves the region and credentials."""
    try:
        with aws_errors(f"creating the {service} client"):
            return session.client(service, region_name=region)
    except (OSError, ValueError, AttributeError) as exc:
        # botocore resolves the credentials here and runs a profile's credential_process itself:
        # a missing command (OSError) or output that is not a JSON object (ValueError,
        # AttributeError) escapes its own error types; an unusable AWS_ENDPOINT_URL is a
        # ValueError too. The output is never shown: it may hold a secret.
        raise AwsCallFailed(
            f"creating the {service} client failed ({type(exc).__name__}): check the profile's "
            "credential_process and AWS_ENDPOINT_URL; the process's output is not shown (it may "
            "hold a secret)"
        ) from None


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
            self.clients[service] = new_client(self.session, service, self.region)
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
    with aws_errors("reading the AWS configuration"):  # a bad profile or config file
        session = boto3.Session(profile_name=profile)
        configured = session.region_name
    chosen = region or configured or stack.region
    if not chosen:
        raise NoRegion(
            "no AWS region: pass --region, set AWS_DEFAULT_REGION, or give one in samconfig"
        )
    cloudformation = new_client(session, "cloudformation", chosen)
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
