"""An emulated AWS account on loopback with pushgate's stack: `python -m tests.operator.world`.

The operator CLI is tested over HTTP, as it talks to a real account. This process is the account:
moto's server (`ThreadedMotoServer`) on 127.0.0.1, serving the backends of a rehearsal world
(`pushgate_cli.rehearse.RehearsalEnvironment`: the offline Step Functions patches, the real
definition from template.yaml, the shipped handlers in-process, an embedded PostgreSQL, the ECS
rollout simulator). Executions started over HTTP run pushgate's definition inside this process.
The CloudFormation stack samconfig.toml names for `dev` exists, with template.yaml's own
Outputs, resolved against the world's resources, so the CLI finds everything the way it does in
AWS.

Protocol (line-based): once serving, one JSON line `{"port", "region", "stack"}` on stdout. Then
commands on stdin, one answer line each:
- `push TAG`: push an image with this tag to the repository; answers the ECR push event (JSON).
- `rollout healthy|failing|stuck`: how newly pushed images behave from now on; answers `ok`.
EOF on stdin ends the process. The functions' output (logs, metrics) goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from pushgate_cli.ecs_sim import Rollout
from pushgate_cli.operator.account import samconfig_stack
from pushgate_cli.rehearse import REGION, STATE_MACHINE, RehearsalConfig, RehearsalEnvironment
from pushgate_cli.template import Resolver

# the resources the stack's outputs name that the rehearsal does not create: placeholders
_UNEMULATED = {
    "EcrPushRule": "pushgate-shop-dev-EcrPushRule",
    "AlertRule": "pushgate-shop-dev-AlertRule",
    "TriggerDeadLetterQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/pushgate-dlq",
}


def stack_outputs(env: RehearsalEnvironment) -> dict[str, str]:
    """template.yaml's Outputs, resolved against the world's resources."""
    refs = {**_UNEMULATED, STATE_MACHINE: env.state_machine_arn}
    refs.update(env.resolver.refs)
    resolver = Resolver(
        env.template,
        env.resolver.parameters,
        refs=refs,
        attributes=env.resolver.attributes,
        region=REGION,
        account_id=env.aws.account_id,
    )
    return {
        name: str(resolver.resolve(spec["Value"]))
        for name, spec in env.template.get("Outputs", {}).items()
    }


def create_stack(name: str, outputs: dict[str, str]) -> None:
    body = {
        "Resources": {"Marker": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=name, TemplateBody=json.dumps(body)
    )


_ANSWERS = sys.stdout  # the functions' logs and metrics (stdout in Lambda) go to stderr


def _answer(line: str) -> None:
    _ANSWERS.write(line + "\n")
    _ANSWERS.flush()


def _serve_commands(env: RehearsalEnvironment) -> None:
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "push":
            answer: Any = env.push_event(argument)
        elif command == "rollout":
            env.simulator.new_images = Rollout(argument)
            answer = "ok"
        else:
            answer = {"error": f"unknown command {command!r}"}
        _answer(answer if isinstance(answer, str) else json.dumps(answer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with (
        contextlib.redirect_stdout(sys.stderr),
        RehearsalEnvironment(RehearsalConfig(config_env="dev")) as env,
    ):
        stack = samconfig_stack(env.root / "samconfig.toml", "dev")
        create_stack(stack.name, stack_outputs(env))
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
        server.start()
        try:
            _answer(json.dumps({"port": args.port, "region": REGION, "stack": stack.name}))
            _serve_commands(env)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
