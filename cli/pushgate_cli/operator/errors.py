"""What can stop an operator command, each with the one line the operator reads."""

from __future__ import annotations


class OperatorError(Exception):
    """A command could not do its work; the message is the one line shown (exit 1)."""


class NoCredentials(OperatorError):
    """boto3 found no credentials, or AWS refused the ones it found."""


class NoRegion(OperatorError):
    """No region: none configured, none given, none in samconfig.toml."""


class AwsConfigUnreadable(OperatorError):
    """The AWS config file (~/.aws/config, AWS_CONFIG_FILE) cannot be parsed."""


class StackNotFound(OperatorError):
    """The environment's CloudFormation stack does not exist in this account and region."""


class NoRuns(OperatorError):
    """The state machine has no execution (in the period asked for)."""


class AwsCallFailed(OperatorError):
    """An AWS call failed for another reason (permissions, throttling, endpoint)."""


class Refused(Exception):
    """Bad input, refused before anything was started or changed (exit 2)."""
