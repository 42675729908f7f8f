"""Test helpers shared by every suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pushgate.database import connect, parse_database_url
from pushgate_cli.handlers import REPO_ROOT

EVENTS_DIR = Path(__file__).parent / "events"


def load_event(name: str) -> Any:
    """The sample event `tests/events/<name>.json`, parsed."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


MIGRATIONS = REPO_ROOT / "migrations"
# the bundled revisions, base to head
CHAIN = ["3f1c9a2b7d10", "8b2e4d6f1a03", "c47a91e2b5d8"]
HEAD = CHAIN[-1]


def query(url: str, sql: str, **params: Any) -> list[list[Any]]:
    """Run one statement on the database at ``url`` (its own connection) and return the rows."""
    con = connect(parse_database_url(url))
    try:
        return con.run(sql, **params) or []
    finally:
        con.close()


def tables(url: str) -> set[str]:
    rows = query(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {row[0] for row in rows}


def columns(url: str, table: str) -> set[str]:
    rows = query(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t",
        t=table,
    )
    return {row[0] for row in rows}


def revision(url: str) -> str | None:
    if "alembic_version" not in tables(url):
        return None
    rows = query(url, "SELECT version_num FROM alembic_version")
    return rows[0][0] if rows else None


class ScriptDir:
    """A scratch copy of migrations/ that a test may add revisions to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def add_revision(
        self, rev: str, down: str | None, upgrade: str, downgrade: str = "pass"
    ) -> None:
        """Write ``versions/<rev>_test.py`` with the given function bodies."""

        def body(code: str) -> str:
            return textwrap.indent(textwrap.dedent(code).strip(), "    ")

        source = "\n".join(
            [
                f'"""{rev} (test revision)"""',
                "",
                "import sqlalchemy as sa",
                "from alembic import op",
                "",
                f"revision = {rev!r}",
                f"down_revision = {down!r}",
                "branch_labels = None",
                "depends_on = None",
                "",
                "",
                "def upgrade() -> None:",
                body(upgrade),
                "",
                "",
                "def downgrade() -> None:",
                body(downgrade),
                "",
            ]
        )
        (self.path / "versions" / f"{rev}_test.py").write_text(source)


RUNS_FOR_SECONDS = 30 * 86400  # a month: a RUNNING owner outlasts every test's lock wait


def execution_of(sfn: Any, machine: str, *, running: bool = True) -> str:
    """The ARN of an execution (``run-1``) of a new state machine ``machine`` in the emulated
    account of ``sfn`` (a moto Step Functions client): RUNNING, or one that was stopped.

    What a lock test needs of another run: its one state waits ``RUNS_FOR_SECONDS``, so it stays
    RUNNING with moto's ASL interpreter on too, at a time scale above 0 (a month is 259 real
    seconds at 0.0001; at 0 the interpreter skips waits), and without the interpreter an
    execution is RUNNING until stopped."""
    created = sfn.create_state_machine(
        name=machine,
        roleArn=f"arn:aws:iam::123456789012:role/{machine}",
        definition=json.dumps(
            {
                "StartAt": "Hold",
                "States": {"Hold": {"Type": "Wait", "Seconds": RUNS_FOR_SECONDS, "End": True}},
            }
        ),
    )
    started = sfn.start_execution(stateMachineArn=created["stateMachineArn"], name="run-1")
    arn = str(started["executionArn"])
    if not running:
        sfn.stop_execution(executionArn=arn)
    return arn


def modules_after_cold_start(
    function: str,
    env: Mapping[str, str],
    roots: Iterable[str],
    *,
    invoke: bool = False,
    events: Iterable[Any] = ({},),
) -> list[str]:
    """Cold-start `functions/<function>` in a fresh interpreter as Lambda would (X-Ray tracing
    on: Powertools traces when LAMBDA_TASK_ROOT is set), optionally invoke it with each of
    `events` (default once, with `{}`), and return which of the top-level packages `roots` it
    had imported by then."""
    code = (
        "import json, sys\n"
        "from pushgate_cli.handlers import load_handler\n"
        "class Context:\n"
        "    function_name = 'cold'; memory_limit_in_mb = 128; aws_request_id = 'r'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:cold'\n"
        f"handler = load_handler({function!r})\n"
        + "".join(
            f"handler.lambda_handler(json.loads({json.dumps(e)!r}), Context())\n"
            for e in (events if invoke else ())
        )
        # a root counts when it, or any module under it, was imported ("botocore.client" too)
        + f"print(json.dumps(sorted({{r for r in {sorted(roots)!r} for m in sys.modules "
        + "if m == r or m.startswith(r + '.')})))\n"
    )
    lambda_env = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": "pushgate",
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": str(REPO_ROOT / "functions" / function),
        "AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR",
        **env,
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=lambda_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    imported: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return imported
