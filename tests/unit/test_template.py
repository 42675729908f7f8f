"""What a user relies on in template.yaml, read the way CloudFormation reads it.

The template and the state machine definition are one program split over two files: these tests
check the seams (placeholders, ARNs, permissions for every call the definition makes), the Lambda
platform, the scoping of every permission that can change the service, and that each environment
in samconfig.toml deploys with valid parameters.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
from pushgate import errors, settings
from pushgate_cli.template import (
    Resolver,
    load_template,
    resource,
    samconfig_parameters,
)

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE["Parameters"]
GLOBAL_FUNCTION: dict[str, Any] = TEMPLATE.get("Globals", {}).get("Function", {})
ASL_PATH = ROOT / "statemachine" / "deploy.asl.json"
ENVIRONMENTS = ["dev", "qa", "beta", "prod"]
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")

FUNCTIONS = sorted(
    name for name, spec in RESOURCES.items() if spec["Type"] == "AWS::Serverless::Function"
)
STATE_MACHINE = resource(TEMPLATE, "DeployStateMachine")["Properties"]
SERVICE_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}"
    ":service/${ClusterName}/${ServiceName}"
}

# What the SAM policy templates used by the state machine grant (SAM's
# samtranslator/policy_templates_data/policy_templates.json).
SAM_POLICY_TEMPLATE_ACTIONS = {
    "LambdaInvokePolicy": {"lambda:InvokeFunction"},
    "DynamoDBCrudPolicy": {
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    },
    "EventBridgePutEventsPolicy": {"events:PutEvents"},
    "AWSSecretsManagerGetSecretValuePolicy": {"secretsmanager:GetSecretValue"},
}
# The AWS SDK service names of Step Functions' aws-sdk integrations whose IAM prefix differs.
IAM_PREFIX = {
    "applicationautoscaling": "application-autoscaling",
    "elasticloadbalancingv2": "elasticloadbalancing",
    "sfn": "states",
    "eventbridge": "events",
    "cloudwatchlogs": "logs",
}


def asl_text() -> str:
    if not ASL_PATH.exists():
        pytest.fail(f"{ASL_PATH.relative_to(ROOT)} does not exist: template.yaml points at it")
    return ASL_PATH.read_text()


def walk(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every JSON object in `node`, depth first."""
    if isinstance(node, Mapping):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def tasks() -> list[Mapping[str, Any]]:
    return [state for state in walk(json.loads(asl_text())) if state.get("Type") == "Task"]


def statements(policies: list[Any]) -> Iterator[Mapping[str, Any]]:
    """The inline statements of a SAM `Policies` list (both branches of an Fn::If)."""
    for policy in policies:
        for node in walk(policy):
            if "Effect" in node and "Action" in node:
                yield node


def actions_of(statement: Mapping[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def resolver(**parameters: str) -> Resolver:
    return Resolver(TEMPLATE, parameters)


def function_property(name: str, key: str) -> Any:
    return RESOURCES[name]["Properties"].get(key, GLOBAL_FUNCTION.get(key))


# --- the seam between the template and the definition ------------------------------------------


def test_every_placeholder_in_the_definition_is_substituted_and_every_substitution_used() -> None:
    # GIVEN the definition file and the DefinitionSubstitutions of DeployStateMachine
    used = set(PLACEHOLDER.findall(asl_text()))
    given = set(STATE_MACHINE["DefinitionSubstitutions"])
    # THEN CloudFormation leaves no ${X} unresolved, and no substitution is dead weight
    assert used - given == set(), "placeholders with no DefinitionSubstitution"
    assert given - used == set(), "DefinitionSubstitutions the definition never uses"


def test_the_raw_definition_is_json_and_names_no_account_region_or_lambda() -> None:
    text = asl_text()
    json.loads(text)  # placeholders live inside strings, so editors and linters can read it
    assert "arn:aws:lambda" not in text
    assert re.findall(r"(?<![0-9])[0-9]{12}(?![0-9])", text) == [], "a literal account id"
    assert re.findall(r"\b(?:us|eu|ap|sa|ca|me|af|il)-[a-z]+-[0-9]\b", text) == [], "a region"


def test_every_lambda_the_definition_invokes_comes_through_a_substitution() -> None:
    substitutions = STATE_MACHINE["DefinitionSubstitutions"]
    invoked = []
    for task in tasks():
        if str(task["Resource"]).startswith("arn:aws:states:::lambda:invoke"):
            arguments = task.get("Parameters") or task.get("Arguments") or {}
            target = arguments.get("FunctionName")
        elif str(task["Resource"]).startswith("arn:aws:states:::"):
            continue
        else:  # a Lambda ARN as the Resource itself
            target = task["Resource"]
        match = re.fullmatch(r"\$\{(\w+)\}", str(target))
        assert match, f"Lambda invoked by a literal name or ARN: {target!r}"
        invoked.append(substitutions[match[1]])
    # THEN each is the Arn of a function of this template
    assert invoked, "the definition invokes no Lambda"
    for value in invoked:
        logical, attribute = value["Fn::GetAtt"]
        assert (logical, attribute) in {(name, "Arn") for name in FUNCTIONS}


LAMBDA_TRANSIENT_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def lambda_tasks() -> dict[str, dict[str, Any]]:
    """The definition's states that invoke a Lambda, by name (there is at least one)."""
    states = json.loads(asl_text())["States"]
    invoking = {
        name: state
        for name, state in states.items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }
    assert invoking
    return invoking


def test_every_lambda_task_retries_lambdas_transient_errors_with_jitter() -> None:
    # GIVEN every state that invokes a Lambda
    invoking = lambda_tasks()
    for name, state in invoking.items():
        # THEN it first retries Lambda's own transient errors, bounded, with full jitter
        first = state["Retry"][0]
        assert set(first["ErrorEquals"]) == LAMBDA_TRANSIENT_ERRORS, name
        assert first["JitterStrategy"] == "FULL", name
        assert 1 <= first["MaxAttempts"] <= 6, name


def test_every_task_catches_every_error() -> None:
    # GIVEN every Task state of the definition
    # THEN an error it did not expect still leads to an announced outcome, never a silent stop
    for task in tasks():
        caught = [error for catcher in task.get("Catch", []) for error in catcher["ErrorEquals"]]
        assert "States.ALL" in caught, task.get("Resource")


def states_of() -> dict[str, dict[str, Any]]:
    states: dict[str, dict[str, Any]] = json.loads(asl_text())["States"]
    return states


def test_every_lambda_task_keeps_its_error_as_given_for_describe_outcome() -> None:
    # GIVEN every state that invokes a Lambda
    states = states_of()
    for name, state in lambda_tasks().items():
        # THEN a failure is caught whole, {Error, Cause}, by one States.ALL Catch (only
        # describe_push's InvalidPush, a rejection, is caught apart): describe_outcome turns a
        # Lambda's JSON error reply into its message, so no Pass state parses a Cause
        *own, last = state["Catch"]
        assert last["ErrorEquals"] == ["States.ALL"], name
        if name == "Run migrations":
            # (its errors that change nothing skip the revert, everything else goes through it)
            assert [c["Next"] for c in own] == ["Release the database lock"], name
            assert last["Next"] == "Downgrade schema", name
            continue
        if name == "Watch the migration task":
            # (a task that never started changed nothing: it skips the undo)
            assert [c["ErrorEquals"] for c in own] == [["MigrationTaskNotStarted"]], name
            assert [c["Next"] for c in own] == ["Release the database lock"], name
            assert last["Next"] == "Check the schema before the downgrade task", name
            continue
        if name == "Check database":
            # (its errors that took nothing skip the database lock's release)
            assert [c["Next"] for c in own] == ["Release the deployment lock"], name
            assert last["Next"] == "Release the database lock", name
            continue
        rejection = {
            "Describe the push": "InvalidPush",
            "Read the image's scripts": "InvalidImage",  # refused before the lock
            "Review the schema change": "SchemaChangeRejected",
        }
        expected = [[rejection[name]]] if name in rejection else []
        assert [c["ErrorEquals"] for c in own] == expected, name
        kept = {"$.error", "$.rollback_error", "$.alert_error", "$.database_lock_error"}
        assert last["ResultPath"] in kept, name
    assert not [name for name, state in states.items() if "StringToJson($." in json.dumps(state)], (
        "a Pass state parses an error's Cause again"
    )


def test_describe_outcome_is_given_every_field_the_outcome_is_read_from() -> None:
    # GIVEN "Describe the outcome" and the defaults "Read the settings" lays out
    states = states_of()
    payload = states["Describe the outcome"]["Parameters"]["Payload"]
    defaults = states["Read the settings"]["Parameters"]
    # THEN it passes each by name (never the whole execution data), and each one a Catch may
    # write starts as null, so the path always exists
    written = {"error", "rejection", "rollback", "revert", "rollback_error", "review"}
    written |= {"promotion", "ledger_error"}  # the promotion check's record, the ledger write's
    written |= {"database_lock_error"}  # the database lock's release that failed
    written |= {"snapshot"}  # the snapshot taken before the migration
    assert set(payload) == {"execution_id.$", "input.$", "settings.$", "push.$", "migration.$"} | {
        "rollout.$",
        "start.$",
    } | {f"{key}.$" for key in written}
    for key in written:
        assert defaults[key] is None, key
        assert payload[f"{key}.$"] == f"$.{key}"


def test_every_rejection_skips_the_lock_and_ends_rejected() -> None:
    # GIVEN the states that note a rejection (describe_push's InvalidPush, the image look-up)
    states = states_of()
    rejecting: list[str] = []
    for name, state in states.items():
        exits = [c for c in state.get("Catch", []) if c["ResultPath"] == "$.rejection"]
        if state.get("ResultPath") == "$.rejection":
            exits.append(state)
        rejecting += [name] * len(exits)
        # THEN each goes straight to "Describe the outcome": it never took the lock; but the
        # schema review's, which holds both locks, releases them first
        after = "Release the database lock" if name == "Review the schema change" else None
        assert all(exit["Next"] == (after or "Describe the outcome") for exit in exits), name
    assert sorted(set(rejecting)) == [
        "Describe the push",
        "Find the pushed image",
        "Note the image that is not there",
        "Note the missing promotion",
        "Read the image's scripts",
        "Review the schema change",
    ]
    # AND the outcome is read first from the rejection, and is a Fail DeploymentRejected
    first = states["How did the run end?"]["Choices"][0]
    assert first == {"Variable": "$.rejection", "IsNull": False, "Next": "Deployment rejected"}
    assert states["Deployment rejected"]["Error"] == "DeploymentRejected"


def test_every_event_is_put_by_one_task_from_what_describe_outcome_said() -> None:
    # GIVEN the definition's states
    states = states_of()
    put_events = "arn:aws:states:::events:putEvents"
    putting = [name for name, state in states.items() if state.get("Resource") == put_events]
    # THEN one task puts every Deployment event, and describe_outcome alone comes before it;
    # if describe_outcome fails, the run still ends as its data say
    assert putting == ["Send the announcement"]
    assert [n for n, s in states.items() if s.get("Next") == "Send the announcement"] == [
        "Describe the outcome"
    ]
    (entry,) = states["Send the announcement"]["Parameters"]["Entries"]
    assert entry["DetailType.$"] == "$.announcement.detail_type"
    assert entry["Detail.$"] == "$.announcement.detail"
    (catch,) = states["Describe the outcome"]["Catch"]
    assert catch["Next"] == "How did the run end?"
    assert catch["ResultPath"] == "$.alert_error"


def test_the_lock_is_asked_for_again_every_minute_until_the_longest_lock_wait() -> None:
    # GIVEN "Take the deployment lock" and the longest lock wait a run may have
    state = states_of()["Take the deployment lock"]
    (held,) = [r for r in state["Retry"] if r["ErrorEquals"] == ["DeploymentLockHeld"]]
    longest_wait = (
        PARAMETERS["HealthDeadlineSeconds"]["MaxValue"]
        + PARAMETERS["SnapshotDeadlineSeconds"]["MaxValue"]
        + 2 * PARAMETERS["MigrationTaskTimeoutSeconds"]["MaxValue"]
        + 3600
    )
    # THEN the retries, a minute apart, outlast it: DeploymentLockTimeout ends the wait first
    assert (held["IntervalSeconds"], held["BackoffRate"]) == (60, 1)
    assert held["IntervalSeconds"] * held["MaxAttempts"] > longest_wait
    assert "DeploymentLockTimeout" in vars(errors)


# The definition's size, kept from growing back unnoticed (issue 15: it was 91 states, 40 Pass).
# Raise a limit in the same commit as the feature that needs it, and say why there.
# 55 = 44 (with issue 11's review) + issue 12's nine: the promotion check (two Choices, the
# ledger read, the rejection's Pass), the ledger write on the success path, and the snapshot
# before a destructive change (a Choice, the instance's and the cluster's createDB*Snapshot, the
# wait for it) + issue 9's two: Read the image's scripts (before the lock) and Find the serving
# image (for schema_ahead)
MAX_STATES = 70  # +14: issue 10, the task runner (Choices, schema check, run/watch/record, undo)
# +1: the task runner's snapshot (DatabaseSnapshot), a Choice after the wait sending each runner on
MAX_PASS_STATES = 8


def test_the_definition_stays_small() -> None:
    states = states_of()
    passes = [name for name, state in states.items() if state["Type"] == "Pass"]
    assert len(states) <= MAX_STATES
    assert len(passes) <= MAX_PASS_STATES


def iam_action(task_resource: str) -> str:
    """The IAM action a Task state's Resource needs, e.g. ecs:UpdateService."""
    if not task_resource.startswith("arn:aws:states:::"):
        return "lambda:InvokeFunction"
    integration = task_resource.removeprefix("arn:aws:states:::")
    parts = integration.split(".")[0].split(":")  # drop .sync / .waitForTaskToken
    service, action = (parts[1], parts[2]) if parts[0] == "aws-sdk" else (parts[0], parts[1])
    if (service, action) == ("lambda", "invoke"):
        return "lambda:InvokeFunction"
    return f"{IAM_PREFIX.get(service, service)}:{action[0].upper()}{action[1:]}"


def granted_to_state_machine() -> set[str]:
    """The IAM actions the state machine's Policies grant (policy templates expanded)."""
    granted: set[str] = set()
    for policy in STATE_MACHINE["Policies"]:
        if isinstance(policy, Mapping):
            for name in (n for n in policy if n != "Statement"):
                assert name in SAM_POLICY_TEMPLATE_ACTIONS, f"what does {name} grant?"
                granted |= SAM_POLICY_TEMPLATE_ACTIONS[name]
    granted |= {a for s in statements(STATE_MACHINE["Policies"]) for a in actions_of(s)}
    return granted


def test_the_state_machine_role_allows_every_call_the_definition_makes() -> None:
    # GIVEN what the state machine's Policies grant
    granted = granted_to_state_machine()
    # WHEN every Task state's integration is translated to its IAM action
    needed = {iam_action(str(task["Resource"])) for task in tasks()}
    # THEN none is denied at run time
    missing = {a for a in needed if not any(fnmatchcase(a, g) for g in granted)}
    assert missing == set()


def test_the_state_machine_role_allows_no_call_the_definition_does_not_make() -> None:
    # GIVEN the calls the definition makes, and the services they belong to
    needed = {iam_action(str(task["Resource"])) for task in tasks()}
    services = {action.split(":")[0] for action in needed}
    # WHEN the role's grants on those services are listed
    granted = {a for a in granted_to_state_machine() if a.split(":")[0] in services}
    # THEN each is a call the definition makes: no Scan of the lock table, no DeleteService
    # (creating an RDS snapshot with Tags needs rds:AddTagsToResource on the new snapshot too)
    assert granted - needed - {"rds:AddTagsToResource"} == set()


# --- the Lambda platform -------------------------------------------------------------------------


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_run_python313_on_arm64_traced_in_the_vpc(name: str) -> None:
    assert function_property(name, "Runtime") == "python3.13"
    assert function_property(name, "Architectures") == ["arm64"]
    assert function_property(name, "Handler") == "app.lambda_handler"
    assert function_property(name, "Tracing") == "Active"
    # SAM prepends the Globals' layers to a function's own (list properties are additive)
    layers = GLOBAL_FUNCTION["Layers"] + RESOURCES[name]["Properties"].get("Layers", [])
    assert layers[0] == {"Ref": "PushgateLayer"}
    assert len(layers) == len({json.dumps(layer) for layer in layers})
    assert ({"Ref": "SquawkLayer"} in layers) == (name == "RunMigrationsFunction")
    vpc = function_property(name, "VpcConfig")
    assert vpc["SubnetIds"] == {"Ref": "SubnetIds"}
    assert vpc["SecurityGroupIds"] == [{"Ref": "SecurityGroupId"}]
    # memory is set per function (the benchmark reads it), never inherited by accident
    assert isinstance(RESOURCES[name]["Properties"]["MemorySize"], int)
    assert (ROOT / RESOURCES[name]["Properties"]["CodeUri"] / "app.py").is_file()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_logs_are_kept_for_the_retention_parameter_and_encrypted(name: str) -> None:
    log_group = RESOURCES[name]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    spec = RESOURCES[log_group]
    assert spec["Type"] == "AWS::Logs::LogGroup"
    assert spec["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert spec["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["PushgateKey", "Arn"]}


def test_the_migration_timeout_is_a_parameter_of_at_most_15_minutes() -> None:
    props = RESOURCES["RunMigrationsFunction"]["Properties"]
    assert props["Timeout"] == {"Ref": "MigrationTimeoutSeconds"}
    assert PARAMETERS["MigrationTimeoutSeconds"]["MaxValue"] <= 900
    assert PARAMETERS["MigrationTimeoutSeconds"]["Default"] <= 900


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_environment_variable_is_a_name_from_settings(name: str) -> None:
    known = {
        value for key, value in vars(settings).items() if key.isupper() and isinstance(value, str)
    }
    variables = {
        **GLOBAL_FUNCTION.get("Environment", {}).get("Variables", {}),
        **RESOURCES[name]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    assert set(variables) - known == set()
    assert variables["POWERTOOLS_SERVICE_NAME"] == "pushgate"
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Fn::Sub": "Pushgate/${AWS::StackName}"}


def test_check_database_reads_the_version_table_run_migrations_writes() -> None:
    """GIVEN the template WHEN both database functions' environments are read THEN the version
    table, its schema and the search_path come from the same parameters."""
    names = (settings.VERSION_TABLE, settings.VERSION_TABLE_SCHEMA, settings.MIGRATION_SEARCH_PATH)
    check, run = (
        RESOURCES[name]["Properties"]["Environment"]["Variables"]
        for name in ("CheckDatabaseFunction", "RunMigrationsFunction")
    )

    assert [check[name] for name in names] == [run[name] for name in names]


def test_every_function_and_the_layer_has_a_make_target() -> None:
    layer = RESOURCES["PushgateLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    layer_makefile = (ROOT / layer["Properties"]["ContentUri"] / "Makefile").read_text()
    assert re.search(r"^build-PushgateLayer:", layer_makefile, re.MULTILINE)
    for name in FUNCTIONS:
        metadata = RESOURCES[name]["Metadata"]
        assert metadata["BuildMethod"] == "makefile"
        makefile = (ROOT / metadata["ContextPath"] / "Makefile").read_text()
        assert re.search(rf"\b{name}\b", makefile), f"{name} has no build-{name} target"


# --- the state machine ---------------------------------------------------------------------------


def test_the_state_machine_is_a_standard_workflow_logged_and_traced() -> None:
    assert STATE_MACHINE["Type"] == "STANDARD"
    assert STATE_MACHINE["DefinitionUri"] == "statemachine/deploy.asl.json"
    assert STATE_MACHINE["Tracing"] == {"Enabled": True}
    logging = STATE_MACHINE["Logging"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is False
    (destination,) = logging["Destinations"]
    log_group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert RESOURCES[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_lock_table_is_keyed_by_lock_id() -> None:
    table = RESOURCES["LockTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "lock_id", "KeyType": "HASH"}]
    assert {"AttributeName": "lock_id", "AttributeType": "S"} in table["AttributeDefinitions"]
    assert STATE_MACHINE["DefinitionSubstitutions"]["LockTableName"] == {"Ref": "LockTable"}


# --- permissions ----------------------------------------------------------------------------------


def all_statements() -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, spec in RESOURCES.items():
        props = spec.get("Properties", {})
        for statement in statements(props.get("Policies", [])):
            yield name, statement


def test_no_policy_grants_every_action_of_a_service() -> None:
    for name, statement in all_statements():
        for action in actions_of(statement):
            if name == "PushgateKey":
                continue
            assert action != "*", name
            assert not action.endswith(":*"), (name, action)


def test_the_service_is_changed_only_through_its_own_arn() -> None:
    # GIVEN every statement that may read or change an ECS service
    service_actions = {"ecs:UpdateService", "ecs:DescribeServices", "ecs:DeleteService"}
    found = [(n, s) for n, s in all_statements() if service_actions & set(actions_of(s))]
    assert found, "nothing may touch the service?"
    for name, statement in found:
        # THEN it names exactly the one service of the parameters
        assert statement["Resource"] == SERVICE_ARN, name


def test_pass_role_is_only_for_the_services_task_roles_and_only_to_ecs_tasks() -> None:
    found = [(n, s) for n, s in all_statements() if "iam:PassRole" in actions_of(s)]
    # the rollout registers revisions naming them; the state machine runs the migration task
    assert sorted(n for n, _ in found) == ["DeployStateMachine", "PrepareRolloutFunction"]
    for _, statement in found:
        assert_passes_only_the_services_roles(statement)


def assert_passes_only_the_services_roles(statement: Mapping[str, Any]) -> None:
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    task, execution = (
        "arn:aws:iam::111122223333:role/task",
        "arn:aws:iam::111122223333:role/execution",
    )
    both = resolver(TaskRoleArn=task, TaskExecutionRoleArn=execution)
    assert sorted(both.resolve(statement["Resource"])) == sorted([task, execution])
    no_task_role = resolver(TaskRoleArn="", TaskExecutionRoleArn=execution)
    assert no_task_role.resolve(statement["Resource"]) == [execution]


def test_take_lock_may_only_take_the_lock_and_ask_about_this_stacks_executions() -> None:
    # GIVEN what TakeLockFunction's policies allow
    granted = {
        action: statement["Resource"]
        for statement in statements(RESOURCES["TakeLockFunction"]["Properties"]["Policies"])
        for action in actions_of(statement)
    }
    # THEN the lock item's read and transactional put, the table's key through DynamoDB, and
    # describeExecution of this stack's state machine's executions only
    lock_table = {"Fn::GetAtt": ["LockTable", "Arn"]}
    assert {a for a, r in granted.items() if a.startswith("dynamodb:")} == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
    }
    assert all(r == lock_table for a, r in granted.items() if a.startswith("dynamodb:"))
    assert granted["states:DescribeExecution"] == {
        "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
        ":execution:${AWS::StackName}-deploy:*"
    }
    assert {a.split(":")[0] for a in granted} == {"dynamodb", "kms", "states"}


def test_only_the_database_functions_read_the_database_secret() -> None:
    readers = {
        name
        for name in FUNCTIONS
        for policy in RESOURCES[name]["Properties"].get("Policies", [])
        if isinstance(policy, Mapping) and "AWSSecretsManagerGetSecretValuePolicy" in policy
    }
    assert readers == {"CheckDatabaseFunction", "RunMigrationsFunction"}
    for name in readers:
        (policy,) = (
            p
            for p in RESOURCES[name]["Properties"]["Policies"]
            if isinstance(p, Mapping) and "AWSSecretsManagerGetSecretValuePolicy" in p
        )
        assert policy["AWSSecretsManagerGetSecretValuePolicy"] == {
            "SecretArn": {"Ref": "DatabaseSecretArn"}
        }


# --- trigger and alerts ---------------------------------------------------------------------------


def test_the_push_rule_starts_the_state_machine_with_the_event_as_input() -> None:
    (target,) = RESOURCES["EcrPushRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "DeployStateMachine"}
    assert {"Input", "InputPath", "InputTransformer"}.isdisjoint(target)
    role = RESOURCES[target["RoleArn"]["Fn::GetAtt"][0]]["Properties"]
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "states:StartExecution"
    assert statement["Resource"] == {"Ref": "DeployStateMachine"}


def test_the_alert_topic_is_encrypted_and_only_its_rules_and_alarms_publish() -> None:
    topic = RESOURCES["AlertTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "PushgateKey"}
    policy = RESOURCES["AlertTopicPolicy"]["Properties"]["PolicyDocument"]
    principals = {s["Principal"]["Service"] for s in policy["Statement"]}
    assert principals == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    expected = {
        "AlertRule": [{"Ref": "AlertTopic"}],
        # and the dead-run compensation (tests/unit/test_template_compensation.py)
        "ExecutionStatusRule": [
            {"Ref": "AlertTopic"},
            {"Fn::GetAtt": ["CompensateRunFunction", "Arn"]},
        ],
    }
    for rule, arns in expected.items():
        targets = RESOURCES[rule]["Properties"]["Targets"]
        assert [t["Arn"] for t in targets] == arns
    subscription = RESOURCES["AlertEmailSubscription"]
    assert subscription["Condition"] == "HasAlertEmail"
    assert resolver(AlertEmail="").condition("HasAlertEmail") is False
    assert resolver(AlertEmail="team@example.com").condition("HasAlertEmail") is True


def test_outputs_name_the_state_machine_the_topic_and_the_rule() -> None:
    outputs = {
        spec["Value"]["Ref"] for spec in TEMPLATE["Outputs"].values() if "Ref" in spec["Value"]
    }
    assert {"DeployStateMachine", "AlertTopic", "EcrPushRule"} <= outputs


def test_every_checkov_skip_in_the_template_gives_a_reason() -> None:
    skips = [
        (name, skip)
        for name, spec in RESOURCES.items()
        for skip in spec.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        assert len(str(skip.get("comment", "")).split()) >= 5, f"{name} skips {skip['id']} silently"


# --- environments ---------------------------------------------------------------------------------


def satisfies(spec: Mapping[str, Any], value: str) -> bool:
    """Would CloudFormation accept `value` for a parameter declared as `spec`?"""
    if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
        return False
    if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
        return False
    if len(value) < spec.get("MinLength", 0):
        return False
    if spec["Type"] == "Number":
        number = float(value)
        return bool(spec.get("MinValue", number) <= number <= spec.get("MaxValue", number))
    return bool(value) or not spec["Type"].startswith(("List<", "AWS::"))


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_deploys_with_valid_parameters(environment: str) -> None:
    overrides = samconfig_parameters(ROOT / "samconfig.toml", environment)
    # every override names a parameter, and each value is one CloudFormation accepts
    assert set(overrides) <= set(PARAMETERS)
    required = {name for name, spec in PARAMETERS.items() if "Default" not in spec}
    assert required - set(overrides) == set(), "required parameters not set"
    for name, spec in PARAMETERS.items():
        value = overrides.get(name, str(spec.get("Default", "")))
        assert satisfies(spec, value), f"{environment}: {name}={value!r}"
    assert overrides["EnvironmentName"] == environment
    # a migration waiting for another run's lock gives up before its Lambda is killed
    values = {
        name: overrides.get(name, str(spec.get("Default"))) for name, spec in PARAMETERS.items()
    }
    assert float(values["MigrationLockWaitSeconds"]) < float(values["MigrationTimeoutSeconds"])
    # the defaults too: a parameter's Default must pass its own constraints
    for name, spec in PARAMETERS.items():
        if "Default" in spec and spec["Default"] != "":
            assert satisfies(spec, str(spec["Default"])), name


def test_environments_are_separate_stacks_that_may_create_roles() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploys = [config[environment]["deploy"]["parameters"] for environment in ENVIRONMENTS]
    assert len({d["stack_name"] for d in deploys}) == len(ENVIRONMENTS)
    for deploy in deploys:
        assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert config["prod"]["deploy"]["parameters"]["confirm_changeset"] is True
