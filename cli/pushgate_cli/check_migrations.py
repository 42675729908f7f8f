"""`pushgate check-migrations DIR`: load a project as the Lambda runner would, and say whether
it can run it.

It reads the project the way run_migrations does (pushgate.migrator: alembic.ini, pyproject's
[tool.alembic], or a bare script directory; every revision file parsed, none imported) and
reads the project's env.py the same way (parsed, never run: pushgate bypasses it) for what it
carries that a run needs as a parameter. The verdict: ``lambda`` (exit 0) when every revision
imports only what the function ships, ``task`` (exit 1) naming the file and the import
otherwise, or when env.py loops over schemas; ``none`` (exit 1) for a project with several heads
or no revision, which no runner deploys; a project that cannot be read exits 1 too.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushgate import settings
from pushgate.errors import InvalidRequest, PushgateError
from pushgate.migrator.scripts import RevisionGraph
from pushgate.migrator.sources import TASK_RUNNER_HINT
from pushgate.review import SchemaReviewer
from pushgate.review.config import squawk_at
from pushgate.review.summary import finding_summary
from pushgate.versiontable import VersionTable

from pushgate_cli.review_text import finding_line
from pushgate_cli.tools import LOCAL_SQUAWK

_PARAMETERS = {"version_table": "VersionTable", "version_table_schema": "VersionTableSchema"}


@dataclass
class EnvFindings:
    """What a project's env.py carries that matters to a run (read from its source)."""

    parameters: dict[str, str] = field(default_factory=dict)  # template parameter -> value
    notes: list[str] = field(default_factory=list)
    needs_task: list[str] = field(default_factory=list)  # why the task runner is needed
    imports: list[str] = field(default_factory=list)


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _calls(node: ast.AST, name: str) -> list[ast.Call]:
    return [
        call
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and (getattr(call.func, "attr", None) == name or getattr(call.func, "id", None) == name)
    ]


def read_env_py(path: Path) -> EnvFindings:
    """What ``path`` (an env.py) configures: version table, schema, search_path, loops."""
    findings = EnvFindings()
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
        _read_imports(tree, findings)
        _read_configure(tree, findings)
        _read_search_path(tree, findings)
        _read_loops(tree, path, findings)
    except (OSError, SyntaxError, ValueError, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else type(exc).__name__
        return EnvFindings(notes=[f"cannot be parsed ({detail}); nothing read from it"])
    return findings


def _read_imports(tree: ast.AST, findings: EnvFindings) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            findings.imports.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            findings.imports.append(node.module)


def _read_configure(tree: ast.AST, findings: EnvFindings) -> None:
    """``context.configure(version_table=..., ...)``: what becomes a parameter."""
    for call in _calls(tree, "configure"):
        for keyword in call.keywords:
            if keyword.arg in _PARAMETERS:
                value = _literal(keyword.value)
                parameter = _PARAMETERS[keyword.arg]
                if isinstance(value, str):
                    findings.parameters[parameter] = value
                else:
                    findings.notes.append(
                        f"line {call.lineno}: {keyword.arg} is computed; set {parameter} to "
                        "its value"
                    )
            elif keyword.arg == "include_schemas" and _literal(keyword.value) is True:
                findings.notes.append(
                    f"line {call.lineno}: include_schemas=True only matters to autogenerate"
                )


def _read_search_path(tree: ast.AST, findings: EnvFindings) -> None:
    for constant in ast.walk(tree):
        if (
            isinstance(constant, ast.Constant)
            and isinstance(constant.value, str)
            and "search_path" in constant.value.lower()
        ):
            findings.notes.append(
                f"line {constant.lineno}: sets the search_path ({constant.value.strip()!r}); "
                "set MigrationSearchPath to the same schemas"
            )


def _read_loops(tree: ast.AST, path: Path, findings: EnvFindings) -> None:
    for loop in ast.walk(tree):
        if isinstance(loop, ast.For | ast.AsyncFor) and (
            _calls(loop, "run_migrations") or _calls(loop, "configure")
        ):
            findings.needs_task.append(
                f"{path.name} line {loop.lineno} runs the migrations once per item of a loop "
                "(per tenant schema?): one version table per schema needs the task runner"
            )


@dataclass
class Check:
    """The verdict and what it is based on, as printed."""

    runner: str  # "lambda", "task" or "none" (several heads or no revision: no runner can)
    lines: list[str]

    @property
    def exit_code(self) -> int:
        return 0 if self.runner == "lambda" else 1


def check(directory: Path) -> Check:
    """Load ``directory`` as the Lambda runner would. InvalidRequest when it cannot be read."""
    graph = RevisionGraph(directory)
    project = graph.project
    revisions = graph.base_to_head()
    lines = [
        f"project:           {project.root} (found by {project.found_in})",
        f"script directory:  {project.script_location}",
        "version locations: " + ", ".join(str(p) for p in project.version_locations),
        f"revisions:         {len(revisions)}, base -> head: "
        + (" -> ".join(r.revision for r in revisions) or "none"),
        f"head:              {', '.join(graph.map.heads) or 'none'}",
    ]
    try:
        graph.head()
        undeployable = None
    except InvalidRequest as exc:  # several heads or none: the Lambda runner refuses it too
        undeployable = str(exc)
    needs_task: list[str] = []
    env = project.env_py
    findings = read_env_py(env) if env is not None else EnvFindings()
    table = findings.parameters.get("VersionTable", "alembic_version")
    schema = findings.parameters.get("VersionTableSchema")
    lines.append(
        f"version table:     {schema + '.' if schema else ''}{table}"
        + ("" if findings.parameters else " (alembic's default)")
    )
    if env is None:
        lines.append("env.py:            none (pushgate's own environment runs the revisions)")
    else:
        lines.append(f"env.py:            {env}: bypassed, never run (pushgate runs the revisions)")
        for parameter, value in findings.parameters.items():
            lines.append(f"  carries {parameter}={value}: set the {parameter} parameter to it")
        lines.extend(f"  {note}" for note in findings.notes)
        if findings.imports:
            lines.append(f"  imports (not needed, not run): {', '.join(findings.imports)}")
        needs_task.extend(findings.needs_task)
    for revision in revisions:
        missing = revision.unshipped_imports()
        if missing:
            needs_task.append(f"{revision.path.name} imports {', '.join(missing)}")
        if revision.autocommit:
            lines.append(
                f"autocommit block:  {revision.revision} ({revision.path.name}) commits what ran "
                "before it; a later failure is undone by the compensation (README)"
            )
    if undeployable is not None:
        lines.append(f"runner:            none (it cannot be deployed: {undeployable})")
        lines.extend(f"  and it needs the task runner: {reason}" for reason in needs_task)
        return Check("none", lines)
    if needs_task:
        lines.append("runner:            task (the Lambda runner cannot run this project)")
        lines.extend(f"  because {reason}" for reason in needs_task)
        lines.append(f"  {TASK_RUNNER_HINT}")
        return Check("task", lines)
    lines.append(
        "runner:            lambda (every revision imports only alembic, SQLAlchemy and the "
        "standard library)"
    )
    lines.extend(review_report(graph, table, schema))
    return Check("lambda", lines)


def review_report(graph: RevisionGraph, table: str, schema: str | None) -> list[str]:
    """Every revision from base, reviewed as "Review the schema change" would (squawk from the
    venv, SchemaPolicy enforce): each one's verdict and what it would take to be rejected."""
    try:
        reviewer = SchemaReviewer(
            squawk_at({settings.SQUAWK_PATH: str(LOCAL_SQUAWK)}),
            "enforce",
            VersionTable(name=table, schema=schema),
        )
        review = reviewer.review_graph(graph, None)
    except PushgateError as exc:
        return [f"review:            cannot review: {type(exc).__name__}: {exc}"]
    lines = [
        f"review:            squawk {review.squawk}, every revision from base (a push reviews "
        "only those its database has not applied)"
    ]
    for revision in review.revisions:
        lines.append(f"  {revision.revision}  {revision.verdict}")
        lines.extend(
            f"    {finding_line(finding_summary(f))}"
            for f in revision.findings
            if f.direction == "upgrade" and (f.verdict != "safe" or f.accepted)
        )
    rejected = [r.revision for r in review.revisions if r.verdict == "breaks-serving"]
    lines.append(
        "  under SchemaPolicy enforce: "
        + (
            f"a push with {', '.join(rejected)} pending is rejected (expand/contract in two "
            "pushes, or pushgate_accept = {rule: reason} in the revision)"
            if rejected
            else "no revision is rejected"
        )
    )
    return lines


def usage_error(argument: str) -> str | None:
    """Why DIR, as typed (before ``Path`` makes ``""`` the current directory), is bad usage
    (exit 2), or None when it names a directory."""
    if not argument:
        return "DIR is empty: name a project directory (. for the current one)"
    path = Path(argument)
    if not path.exists():
        return f"{argument}: no such directory"
    if not path.is_dir():
        return f"{argument}: not a directory (name the project's directory)"
    return None


def run(directory: Path) -> tuple[int, str]:
    """The exit code and the report (1 and the reason when the project cannot be read)."""
    try:
        result = check(directory)
    except InvalidRequest as exc:
        return 1, f"cannot run here: {exc}"
    return result.exit_code, "\n".join(result.lines)
