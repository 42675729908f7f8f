"""An emulated AWS account on loopback with pushgate's stack: `python -m tests.operator.world`.

The operator CLI is tested over HTTP, as it talks to a real account. This process is the account:
moto's server (`ThreadedMotoServer`) on 127.0.0.1, serving the backends of a rehearsal world
(`pushgate_cli.rehearse.RehearsalEnvironment`: the offline Step Functions patches, the real
definition from template.yaml, the shipped handlers in-process, an embedded PostgreSQL, the ECS
rollout simulator). Executions started over HTTP run pushgate's definition inside this process.
The CloudFormation stack samconfig.toml names for `dev` exists, with template.yaml's own
Outputs, resolved against the world's resources, so the CLI finds everything the way it does in
AWS. The template's outcome rule (ObserveOutcomeFunction's EventBridge event, with its real
pattern) routes the announcements to a queue that a thread delivers to the shipped
observe_outcome handler, as EventBridge invokes the Lambda (moto's EventBridge has no Lambda
targets), so the serving record gains its revision and failure count as in AWS.

Protocol (line-based): once serving, one JSON line `{"port", "region", "stack"}` on stdout. Then
commands on stdin, one answer line each:
- `push TAG`: push an image with this tag to the repository; answers the ECR push event (JSON).
- `rollout healthy|failing|stuck`: how newly pushed images behave from now on; answers `ok`.
- `settle`: once every announcement so far reached observe_outcome; answers `ok`.
EOF on stdin ends the process. The functions' output (logs, metrics) goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
from typing import Any

import boto3
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from pushgate_cli.handlers import load_handler
from pushgate_cli.lambda_context import LambdaContext
from pushgate_cli.operator.account import samconfig_stack
from pushgate_cli.rehearse import REGION, STATE_MACHINE, RehearsalConfig, RehearsalEnvironment
from pushgate_cli.scenarios import Rollout
from pushgate_cli.template import Resolver, function_environment, resource

OBSERVER = "ObserveOutcomeFunction"

# the resources the stack's outputs name that the rehearsal does not create: placeholders
_UNEMULATED = {
    "EcrPushRule": "pushgate-shop-dev-EcrPushRule",
    "AlertRule": "pushgate-shop-dev-AlertRule",
    "TriggerDeadLetterQueue": "https://sqs.us-east-1.amazonaws.com/123456789012/pushgate-dlq",
    "DeployDashboard": "pushgate-shop-dev",
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


class OutcomeDelivery:
    """EventBridge -> observe_outcome: the template's rule into a queue, drained by a thread."""

    def __init__(self, env: RehearsalEnvironment) -> None:
        properties = resource(env.template, OBSERVER)["Properties"]
        rule = properties["Events"]["Outcome"]["Properties"]
        sqs = boto3.client("sqs", region_name=REGION)
        self._sqs = sqs
        self._queue = sqs.create_queue(QueueName="pushgate-world-outcomes")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._queue, AttributeNames=["QueueArn"])
        events = boto3.client("events", region_name=REGION)
        bus = str(env.resolver.resolve(rule.get("EventBusName", "default")))
        events.put_rule(
            Name="OutcomeRule",
            EventBusName=bus,
            EventPattern=json.dumps(env.resolver.resolve(rule["Pattern"])),
        )
        events.put_targets(
            Rule="OutcomeRule",
            EventBusName=bus,
            Targets=[{"Id": "observe-outcome", "Arn": queue_arn["Attributes"]["QueueArn"]}],
        )
        # its own environment only, around its cold start and each invocation, as in Lambda
        self._environments = env.function_environments
        self._environments.update(
            {
                OBSERVER: {
                    **function_environment(env.template, env.resolver, OBSERVER),
                    "POWERTOOLS_TRACE_DISABLED": "true",
                }
            }
        )
        with self._environments.applied(OBSERVER):
            self._handler = load_handler("observe_outcome", env.root, fresh=True)
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._drain_forever, daemon=True)

    def __enter__(self) -> OutcomeDelivery:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def settle(self) -> None:
        while self._drain():
            pass

    def _drain_forever(self) -> None:
        while not self._stop.is_set():
            if not self._drain():
                self._stop.wait(0.05)

    def _drain(self) -> bool:
        """Deliver what is queued; False when nothing was."""
        with self._busy:
            batch = self._sqs.receive_message(QueueUrl=self._queue, MaxNumberOfMessages=10)
            messages = batch.get("Messages", [])
            for message in messages:
                with self._environments.applied(OBSERVER):
                    self._handler.lambda_handler(
                        json.loads(message["Body"]),
                        LambdaContext.invocation("observe-outcome", timeout_s=30, memory_mb=256),
                    )
                self._sqs.delete_message(
                    QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"]
                )
            return bool(messages)


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


def _serve_commands(env: RehearsalEnvironment, delivery: OutcomeDelivery) -> None:
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "push":
            answer: Any = env.push_event(argument)
        elif command == "settle":
            delivery.settle()
            answer = "ok"
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
        with OutcomeDelivery(env) as delivery:
            server.start()
            try:
                _answer(json.dumps({"port": args.port, "region": REGION, "stack": stack.name}))
                _serve_commands(env, delivery)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
