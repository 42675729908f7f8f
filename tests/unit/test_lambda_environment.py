"""The environment a function's process gets on this machine (pushgate_cli.lambda_python): the
one Lambda sets, then the template's, then the caller's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.session import Session
from pushgate_cli.lambda_python import lambda_environment

pytestmark = pytest.mark.unit


def test_an_sdk_client_finds_the_execution_roles_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN take_lock's environment as Lambda sets it, and nothing else
    env = lambda_environment("take_lock", Path("/var/task"), 128, {"LOCK_TABLE_NAME": "locks"})
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # WHEN botocore looks for credentials
    credentials = Session().get_credentials()
    # THEN it found them in the environment, as in Lambda: no config file, no instance metadata
    # was asked (a cold start there never walks the rest of the chain)
    assert credentials is not None
    assert credentials.method == "env"
    assert env["LOCK_TABLE_NAME"] == "locks"


def test_the_callers_variables_come_last() -> None:
    # GIVEN a caller's own credentials (the smoke test's, for moto) / WHEN the environment is
    # made / THEN they replace the placeholders
    env = lambda_environment("take_lock", Path("/var/task"), 128, {}, {"AWS_ACCESS_KEY_ID": "moto"})
    assert env["AWS_ACCESS_KEY_ID"] == "moto"
