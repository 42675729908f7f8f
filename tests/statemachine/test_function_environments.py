"""The rehearsal's function environments and the AWS clients other threads make meanwhile.

While an invocation holds its function's environment, variables are taken out of
``os.environ``; a client made on another thread at that moment iterates it (botocore's proxy
lookup) and could fail with a KeyError, a States.Runtime AWS never raises.
"""

from __future__ import annotations

import threading

import pytest
from botocore.session import Session
from pushgate_cli.rehearse import FunctionEnvironments

pytestmark = pytest.mark.statemachine  # the rehearsal's machinery

FUNCTION = "CheckDatabaseFunction"


def environments() -> FunctionEnvironments:
    envs = FunctionEnvironments()
    envs.update({FUNCTION: {"VERSION_TABLE": "alembic_version"}, "Other": {"SERVICE_NAME": "x"}})
    return envs


def make_client_on_a_thread() -> tuple[threading.Thread, threading.Event]:
    made = threading.Event()

    def make() -> None:
        Session().create_client(
            "sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="s"
        )
        made.set()

    thread = threading.Thread(target=make, daemon=True)
    thread.start()
    return thread, made


def test_a_client_is_made_only_while_no_invocation_holds_an_environment() -> None:
    # GIVEN client creation guarded, and an invocation holding its function's environment
    envs = environments()
    with envs.guarding_clients(), envs.applied(FUNCTION):
        # WHEN another thread makes a client
        thread, made = make_client_on_a_thread()

        # THEN it waits while the environment is held ...
        assert not made.wait(timeout=1.0)
    # ... and is made once it is given back
    thread.join(timeout=30)
    assert made.is_set()


def test_the_guard_is_gone_after_the_rehearsal() -> None:
    # GIVEN the guard entered and left
    envs = environments()
    original = Session.create_client
    with envs.guarding_clients():
        assert Session.create_client is not original

    # WHEN an invocation holds its environment THEN a client is made on another thread at once
    assert Session.create_client is original
    with envs.applied(FUNCTION):
        thread, made = make_client_on_a_thread()
        assert made.wait(timeout=30)
    thread.join(timeout=30)
