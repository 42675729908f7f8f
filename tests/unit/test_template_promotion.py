"""template.yaml and samconfig.toml: the deploy ledger and the promotion chain (issue 12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pushgate_cli.template import Resolver, load_template, resource, samconfig_parameters

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
LEDGER_ARN = {
    "Fn::If": [
        "CreatesDeployLedger",
        {"Fn::GetAtt": ["DeployLedger", "Arn"]},
        {"Ref": "DeployLedgerTableArn"},
    ]
}


def state_machine_statements() -> list[dict[str, Any]]:
    policies = resource(TEMPLATE, "DeployStateMachine")["Properties"]["Policies"]
    statements: list[dict[str, Any]] = []
    for policy in policies:
        for statement in policy.get("Statement", []):
            if "Fn::If" in statement:  # [condition, statement, AWS::NoValue]
                statement = statement["Fn::If"][1]
            statements.append(statement)
    return statements


def ledger_statements() -> dict[str, dict[str, Any]]:
    return {s["Action"]: s for s in state_machine_statements() if s.get("Resource") == LEDGER_ARN}


def test_the_state_machine_writes_only_its_own_environments_records_in_the_ledger() -> None:
    # GIVEN the state machine's permissions on the deploy ledger
    statements = ledger_statements()
    # THEN it may put items only under its own environment, and read only the lower one's
    assert set(statements) == {"dynamodb:PutItem", "dynamodb:GetItem"}
    put = statements["dynamodb:PutItem"]["Condition"]["ForAllValues:StringEquals"]
    assert put["dynamodb:LeadingKeys"] == [{"Ref": "EnvironmentName"}]
    get = statements["dynamodb:GetItem"]["Condition"]["ForAllValues:StringEquals"]
    assert get["dynamodb:LeadingKeys"] == [{"Ref": "RequirePromotionFrom"}]


def test_the_ledger_is_keyed_by_environment_then_digest_and_outlives_its_stack() -> None:
    # GIVEN the ledger a stack creates when it names none
    ledger = resource(TEMPLATE, "DeployLedger")
    # THEN its key is what the definition reads and writes, and deleting the stack keeps it
    assert ledger["Properties"]["KeySchema"] == [
        {"AttributeName": "environment", "KeyType": "HASH"},
        {"AttributeName": "digest", "KeyType": "RANGE"},
    ]
    assert (ledger["DeletionPolicy"], ledger["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert ledger["Condition"] == "CreatesDeployLedger"


@pytest.mark.parametrize(
    ("environment", "lower"), [("dev", ""), ("qa", ""), ("beta", "qa"), ("prod", "beta")]
)
def test_each_environment_is_promoted_from_the_one_below_through_devs_ledger(
    environment: str, lower: str
) -> None:
    # GIVEN an environment's samconfig parameters
    parameters = samconfig_parameters(ROOT / "samconfig.toml", environment)
    resolver = Resolver(TEMPLATE, parameters)
    # THEN it requires the environment below it (none for dev and qa), and every environment
    # but dev names the ledger dev's stack creates
    assert parameters["RequirePromotionFrom"] == lower
    assert resolver.condition("CreatesDeployLedger") == (environment == "dev")
    if environment != "dev":
        dev_stack = "pushgate-shop-dev"
        assert parameters["DeployLedgerTableArn"].endswith(f":table/{dev_stack}-ledger")
