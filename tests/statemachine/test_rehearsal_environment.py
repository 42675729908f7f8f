"""The rehearsal gives each function only its own environment, as Lambda does.

The functions share the rehearsal's process; if their environments were merged, a handler that
reads another function's variable would pass offline and fail in AWS.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from pushgate import settings
from pushgate_cli.handlers import REPO_ROOT
from pushgate_cli.rehearse import (
    FUNCTIONS,
    RehearsalConfig,
    RehearsalEnvironment,
)
from pushgate_cli.template import function_environment

pytestmark = pytest.mark.statemachine

PUSHGATE_SETTINGS = {
    value for key, value in vars(settings).items() if key.isupper() and isinstance(value, str)
}


def test_each_function_runs_with_exactly_its_template_environment(database_url: str) -> None:
    # GIVEN a rehearsal, and an observer noting which pushgate settings each invocation saw
    seen: dict[str, set[str]] = {}

    def note_environment(function: str, _event: object, _error: BaseException | None) -> None:
        seen.setdefault(function, set()).update(PUSHGATE_SETTINGS & set(os.environ))

    config = RehearsalConfig(database_url=database_url)
    with RehearsalEnvironment(config) as env:
        env.lambda_observers.append(note_environment)

        # WHEN a healthy push is deployed
        result = env.execute(env.push_event("release-2"))
        template_names = {
            logical_id: set(function_environment(env.template, env.resolver, logical_id))
            for logical_id in FUNCTIONS
        }

    # THEN it succeeded with each function given only the settings its template names, the
    # rehearsal's log settings, and the scripts for the function that ships them
    assert result.status == "succeeded", result.path
    overrides = {settings.POWERTOOLS_TRACE_DISABLED, settings.POWERTOOLS_LOG_LEVEL}
    assert seen["check_database"] == template_names["CheckDatabaseFunction"] | overrides
    assert seen["run_migrations"] == template_names["RunMigrationsFunction"] | overrides | {
        settings.MIGRATIONS_DIR
    }
    assert seen["prepare_rollout"] == template_names["PrepareRolloutFunction"] | overrides


def project_copy(root: Path) -> Path:
    """What a rehearsal reads of the repository, copied so a handler can be changed."""
    for name in ("template.yaml", "samconfig.toml"):
        shutil.copy(REPO_ROOT / name, root / name)
    for name in ("statemachine", "functions", "migrations"):
        shutil.copytree(
            REPO_ROOT / name,
            root / name,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return root


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        (settings.CLUSTER_NAME, "failed"),  # prepare_rollout's, not check_database's
        (settings.DATABASE_SECRET_ARN, "succeeded"),  # its own
    ],
)
def test_a_handler_that_reads_another_functions_variable_fails_in_the_rehearsal(
    database_url: str, tmp_path: Path, variable: str, expected: str
) -> None:
    # GIVEN check_database changed to read a variable at cold start
    root = project_copy(tmp_path)
    handler = root / "functions" / "check_database" / "app.py"
    handler.write_text(
        handler.read_text()
        .replace(
            "\nlogger = Logger()\n", f"\nlogger = Logger()\nREAD = os.environ[{variable!r}]\n", 1
        )
        .replace("from typing import Any\n", "import os\nfrom typing import Any\n", 1)
    )
    config = RehearsalConfig(database_url=database_url, root=root, expect=expected)
    with RehearsalEnvironment(config) as env:
        # WHEN a push is deployed
        result = env.execute(env.push_event("release-2"))

    # THEN reading another function's variable fails its cold start, as it would in Lambda,
    # and the run fails with nothing migrated; reading its own works
    assert result.status == expected, result.path
    errors = {
        str(details["error"])
        for event in result.execution.history
        for key, details in event.items()
        if key.endswith("FailedEventDetails") and isinstance(details, dict)
    }
    if expected == "failed":
        assert "KeyError" in errors
        assert result.revision_after == result.revision_before
        assert "Run migrations" not in result.path
    else:
        assert errors == set()
