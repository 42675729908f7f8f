"""The operator suite: `pushgate status|history|replay|redrive|explain` over HTTP.

`world` starts `tests.operator.world` (moto's server on loopback, serving a rehearsal world with
pushgate's stack in it) once per module. `pushgate` runs the real command in a subprocess with
the standard settings pointing it there: AWS_ENDPOINT_URL, AWS_REGION, test credentials and no
config files of this machine.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from pushgate_cli.embedded import free_port

ROOT = Path(__file__).resolve().parents[2]
PUSHGATE = Path(sys.executable).with_name("pushgate")
_START_TIMEOUT_S = 120


@dataclass
class World:
    """The emulated account: its endpoint, and the commands of its control channel."""

    process: subprocess.Popen[str]
    endpoint: str
    region: str
    stack: str

    def command(self, line: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def push(self, tag: str) -> dict[str, Any]:
        """Push an image; the ECR event EventBridge would deliver for it."""
        event: dict[str, Any] = json.loads(self.command(f"push {tag}"))
        return event

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def environ(self, **changes: str | None) -> dict[str, str]:
        """The environment of an operator's shell pointed at this account."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=self.region,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_CONFIG_FILE=os.devnull,
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        for key, value in changes.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.operator.world", "--port", str(port)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], _START_TIMEOUT_S)
        assert ready, "the emulated account did not start"
        hello = json.loads(process.stdout.readline())
        yield World(process, f"http://127.0.0.1:{port}", hello["region"], hello["stack"])
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def pushgate(world: World) -> Any:
    def run(*args: str, **env: str | None) -> Result:
        done = subprocess.run(
            [str(PUSHGATE), *args],
            cwd=ROOT,
            env=world.environ(**env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


def wait_until_done(world: World, execution_arn: str, timeout_s: float = 60) -> dict[str, Any]:
    sfn = world.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while True:
        found: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if found["status"] != "RUNNING":
            return found
        assert time.monotonic() < deadline, f"{execution_arn} still running"
        time.sleep(0.05)
