"""One self-contained HTML page per run: the definition's graph with the path taken, and the facts.

The graph is laid out by Graphviz (`dot -Tsvg`, Debian's `graphviz`) from the definition itself
(every `Next`, `Default`, `Choices[].Next` and `Catch[].Next`) and embedded inline as SVG: no
script, no stylesheet or font from elsewhere, so the page works offline and from a file. States
on the path are drawn `class="state taken"` (the last one also `last`), the transitions taken
`class="edge taken"`; each taken state is labelled with how often it was entered, how long it
took and what it waited. Below the graph: the states in order, schema and service before and
after, and the events the run put.

`rehearsal_page(result)` builds the page of a rehearsal (`pushgate rehearse --html`),
`explained_page(explained)` the page of a real execution (`pushgate explain --html`); both
return `Page`, written by `write_page`. `definition_svg()` is the docs picture.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pushgate_cli.offline import ExecutionReport
from pushgate_cli.render import StateRow, scripts_line, state_rows
from pushgate_cli.review_text import review_of

if TYPE_CHECKING:
    from pushgate_cli.operator.commands import Explained
    from pushgate_cli.rehearse import RunResult

DOT = "dot"
_DOT_TIMEOUT_S = 60
_SHAPES = {
    "Task": 'shape=box style="rounded,filled"',
    "Choice": 'shape=hexagon style="filled"',
    "Pass": 'shape=box style="dashed,filled"',
    "Wait": 'shape=box style="rounded,dashed,filled"',
    "Succeed": 'shape=ellipse style="filled,bold"',
    "Fail": 'shape=ellipse style="filled,bold"',
}


class ReportError(Exception):
    """The report cannot be drawn (Graphviz missing or failing)."""


@dataclass(frozen=True)
class Side:
    """Before or after: the schema revision and the service, as the run left them."""

    schema: str
    service: str


@dataclass(frozen=True)
class Page:
    title: str
    outcome: str
    definition: Mapping[str, Any]
    execution: ExecutionReport
    before: Side
    after: Side
    events: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    review: Mapping[str, Any] | None = None  # "Review the schema change"'s answer

    @property
    def rows(self) -> list[StateRow]:
        return state_rows(self.execution)


# --- the graph -------------------------------------------------------------------------------
def transitions(state: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(target, kind) of every transition out of one state."""
    found: list[tuple[str, str]] = []
    if "Next" in state:
        found.append((str(state["Next"]), "next"))
    for choice in state.get("Choices", []):
        found.append((str(choice["Next"]), "choice"))
    if "Default" in state:
        found.append((str(state["Default"]), "default"))
    for catch in state.get("Catch", []):
        found.append((str(catch["Next"]), "catch"))
    return found


def graph_dot(
    definition: Mapping[str, Any],
    path: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> str:
    """The definition as a Graphviz digraph; the path's states and transitions marked taken."""
    states: Mapping[str, Any] = definition["States"]
    taken = set(path)
    steps = set(itertools.pairwise(path))
    last = path[-1] if path else None
    lines = [
        "digraph definition {",
        '  graph [rankdir=TB nodesep=0.25 ranksep=0.35 fontname="Helvetica" bgcolor="white"]',
        '  node [fontname="Helvetica" fontsize=10 fillcolor="#f4f4f4" color="#9a9a9a"]',
        '  edge [fontname="Helvetica" fontsize=8 color="#b8b8b8" arrowsize=0.6]',
        '  "__start" [shape=circle label="" width=0.18 style=filled fillcolor="#333333"]',
        f'  "__start" -> {_id(str(definition["StartAt"]))}'
        + (' [class="edge taken" color="#0b62b0" penwidth=2.4]' if path else ""),
    ]
    for name, state in states.items():
        kind = str(state.get("Type", "Task"))
        label = name + (f"\n{labels[name]}" if labels and name in labels else "")
        classes = "state" + (" taken" if name in taken else "") + (" last" if name == last else "")
        style = _SHAPES.get(kind, _SHAPES["Task"])
        colour = ""
        if name in taken:
            fill = "#cfe6ff"
            if name == last:
                fill = "#c9f0d0" if kind == "Succeed" else "#ffd4d4" if kind == "Fail" else fill
            colour = f' fillcolor="{fill}" color="#0b62b0" penwidth=2'
        lines.append(
            f"  {_id(name)} [{style} label={_quote(label)} class={_quote(classes)}"
            f" tooltip={_quote(f'{kind}: {name}')}{colour}]"
        )
    for name, state in states.items():
        for target, kind in transitions(state):
            attributes = []
            if kind == "catch":
                attributes.append('style=dashed label="catch"')
            if (name, target) in steps:
                attributes.append('class="edge taken" color="#0b62b0" penwidth=2.4')
            suffix = f" [{' '.join(attributes)}]" if attributes else ""
            lines.append(f"  {_id(name)} -> {_id(target)}{suffix}")
    lines.append("}")
    return "\n".join(lines)


def render_svg(dot_source: str) -> str:
    """Lay a digraph out with Graphviz; the SVG element alone (no XML prolog or doctype)."""
    if shutil.which(DOT) is None:
        raise ReportError("Graphviz `dot` is not installed (Debian: apt-get install graphviz)")
    try:
        done = subprocess.run(
            [DOT, "-Tsvg"],
            input=dot_source,
            capture_output=True,
            text=True,
            timeout=_DOT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ReportError(f"Graphviz took more than {_DOT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        raise ReportError(f"Graphviz failed: {done.stderr.strip()}")
    svg = done.stdout
    return svg[svg.index("<svg") :]


def shipped_definition(root: Path, logical_id: str = "DeployStateMachine") -> dict[str, Any]:
    """The definition file template.yaml deploys (its ${...} substitutions sit in strings)."""
    from pushgate_cli.template import load_template, resource

    properties = resource(load_template(root / "template.yaml"), logical_id)["Properties"]
    found: dict[str, Any] = json.loads((root / str(properties["DefinitionUri"])).read_text())
    return found


def definition_svg(definition: Mapping[str, Any]) -> str:
    """The picture of the definition alone (docs/), as a standalone SVG file."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + render_svg(graph_dot(definition))


# --- the pages -------------------------------------------------------------------------------
def rehearsal_page(result: RunResult, definition: Mapping[str, Any]) -> Page:
    """A rehearsal: the schema and service as the database and ECS showed them."""
    return Page(
        title=f"pushgate rehearsal: {result.scenario}",
        outcome=result.status,
        definition=definition,
        execution=result.execution,
        before=Side(result.revision_before or "base", _service_text(result.service_before)),
        after=Side(result.revision_after or "base", _service_text(result.service)),
        events=[_event(e.get("DetailType"), e.get("Detail")) for e in result.events],
        notes=[
            scripts_line(result),
            "waits and retries were simulated (no wall-clock time): see 'waited'",
        ],
        review=result.review,
    )


def explained_page(explained: Explained) -> Page:
    """A real execution: schema and service as its announcement says it left them."""
    events = put_events(explained.report.history)
    detail = events[-1]["detail"] if events else {}
    before, after = _sides(explained.run.outcome, detail)
    return Page(
        title=f"pushgate run {explained.run.name}",
        outcome=explained.run.outcome,
        definition=json.loads(explained.definition),
        execution=explained.report,
        before=before,
        after=after,
        events=events,
        notes=[f"console: {explained.run.console_url}"],
        review=review_of(explained.report),
    )


def put_events(history: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The EventBridge entries the run's putEvents tasks sent, from its history."""
    found = []
    for event in history:
        details = event.get("taskScheduledEventDetails") or {}
        if details.get("resource") != "putEvents":
            continue
        try:
            parameters = json.loads(str(details.get("parameters")))
        except ValueError:
            continue
        for entry in parameters.get("Entries", []):
            found.append(_event(entry.get("DetailType"), entry.get("Detail")))
    return found


def write_rehearsal_page(path: Path, result: RunResult) -> Path:
    """`pushgate rehearse --html FILE`: the page of the rehearsed run, from the shipped files."""
    from pushgate_cli.handlers import REPO_ROOT

    write_page(path, rehearsal_page(result, shipped_definition(REPO_ROOT)))
    return path


def write_page(path: Path, page: Page) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page_html(page), encoding="utf-8")


def page_html(page: Page) -> str:
    rows = page.rows
    labels = _labels(rows)
    svg = _fit_width(render_svg(graph_dot(page.definition, page.execution.path, labels)))
    e = html.escape
    table = "\n".join(
        f"<tr><td>{n}</td><td>{e(r.name)}</td><td>{_took(r)}</td>"
        f"<td>{e(_waited(r))}</td><td>{e(r.outcome)}</td></tr>"
        for n, r in enumerate(rows, 1)
    )
    events = "\n".join(
        f"<li><b>{e(str(ev['detail_type']))}</b><pre>{e(json.dumps(ev['detail'], indent=2))}</pre>"
        "</li>"
        for ev in page.events
    )
    notes = "".join(f"<p class='note'>{e(note)}</p>" for note in page.notes)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(page.title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.1em; margin-top: 1.5em; }}
.outcome {{ padding: 0.1em 0.5em; border-radius: 4px; background: #eee; }}
.outcome.succeeded {{ background: #c9f0d0; }}
.outcome.rolled_back, .outcome.failed, .outcome.rollback_failed, .outcome.error {{
  background: #ffd4d4; }}
.graph {{ overflow: auto; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 8px; border-bottom: 1px solid #eee;
  text-align: left; vertical-align: top; }}
pre {{ background: #f7f7f7; padding: 0.5em; overflow: auto; max-width: 100%; }}
.note {{ color: #666; }}
</style>
</head>
<body>
<h1>{e(page.title)}
<span class="outcome {e(page.outcome)}" id="outcome">{e(page.outcome)}</span></h1>
<p>execution <code>{e(page.execution.execution_arn)}</code>: {e(page.execution.status)}
{e(page.execution.error or "")}, {len(rows)} states entered</p>
{notes}
<h2>The path taken</h2>
<div class="graph">{svg}</div>
<h2>States, in order</h2>
<table id="states"><tr><th>#</th><th>state</th><th>took</th><th>waited</th><th>outcome</th></tr>
{table}
</table>
<h2>Before and after</h2>
<table id="sides"><tr><th></th><th>schema</th><th>service</th></tr>
<tr><td>before</td><td>{e(page.before.schema)}</td><td>{e(page.before.service)}</td></tr>
<tr><td>after</td><td>{e(page.after.schema)}</td><td>{e(page.after.service)}</td></tr>
</table>
<h2>Schema review</h2>
{_review_html(page.review)}
<h2>Events</h2>
<ul id="events">{events or "<li>none put</li>"}</ul>
</body>
</html>
"""


# --- helpers ---------------------------------------------------------------------------------
_REVIEW_COLUMNS = ("revision", "direction", "verdict", "rule", "statement", "accepted")


def _review_html(review: Mapping[str, Any] | None) -> str:
    """The review's verdict and every finding it returned (or its error), as a table."""
    e = html.escape
    if review is None:
        return "<p id='review'>the run never reached Review the schema change</p>"
    if "error" in review:
        return f"<p id='review'><b>{e(str(review['error']))}</b>: {e(str(review['cause']))}</p>"
    counts = review.get("counts") or {}
    shown = ", ".join(f"{e(str(n))} {e(str(v))}" for v, n in counts.items())
    findings = [f for r in review.get("revisions") or [] for f in r.get("findings") or []]
    rows = "\n".join(
        "<tr>" + "".join(f"<td>{e(str(f.get(c) or ''))}</td>" for c in _REVIEW_COLUMNS) + "</tr>"
        for f in findings or review.get("findings") or []
    )
    head = "".join(f"<th>{c}</th>" for c in _REVIEW_COLUMNS)
    return (
        f"<p id='review'>verdict <b>{e(str(review.get('verdict')))}</b> under SchemaPolicy "
        f"{e(str(review.get('policy')))}: {shown} revision(s); "
        f"{e(str(review.get('accepted')))} finding(s) accepted; squawk "
        f"{e(str(review.get('squawk')))}. A downgrade's findings never gate (it runs only in a "
        f"rollback, the service at zero).</p>\n"
        f"<table id='findings'><tr>{head}</tr>\n{rows}\n</table>"
    )


def _labels(rows: Sequence[StateRow]) -> dict[str, str]:
    entered = Counter(r.name for r in rows)
    took: dict[str, float] = {}
    waited: dict[str, float] = {}
    for r in rows:
        took[r.name] = took.get(r.name, 0.0) + (r.took_ms or 0.0)
        waited[r.name] = waited.get(r.name, 0.0) + sum(w.seconds for w in r.waits)
    labels = {}
    for name, times in entered.items():
        parts = [f"x{times}"] if times > 1 else []
        parts.append(_ms(took[name]))
        if waited[name]:
            parts.append(f"waited {waited[name]:g} s")
        labels[name] = ", ".join(parts)
    return labels


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def _took(row: StateRow) -> str:
    return _ms(row.took_ms) if row.took_ms is not None else ""


def _waited(row: StateRow) -> str:
    if not row.waits:
        return ""
    return ", ".join(f"{w.kind} {w.seconds:g} s" for w in row.waits)


def _event(detail_type: Any, detail: Any) -> dict[str, Any]:
    if isinstance(detail, str):
        with contextlib.suppress(ValueError):
            detail = json.loads(detail)
    return {"detail_type": str(detail_type), "detail": detail}


def _service_text(service: Any) -> str:
    return f"{service.task_definition.rsplit('/', 1)[-1]} x{service.desired_count}"


def _sides(outcome: str, detail: Mapping[str, Any]) -> tuple[Side, Side]:
    """What the announcement says the run found and left (docs/state-machine.md's matrix)."""
    start = str(detail.get("from_revision") or "base")
    reached = str(detail.get("to_revision") or start)
    previous = _short(detail.get("previous_task_definition"))
    new = _short(detail.get("task_definition"))
    before = Side(start, previous or "unknown (not read)")
    if outcome == "succeeded":
        return before, Side(reached, new or previous or "unknown")
    if outcome == "rolled_back":
        restored = detail.get("restore_previous_version")
        service = f"{previous} (restored)" if restored else "scaled to zero"
        applied = detail.get("applied") or []
        schema = f"{start} (downgraded from {reached})" if applied else f"{start} (nothing applied)"
        return before, Side(schema, service)
    if outcome == "rollback_failed":
        return before, Side("left as it was when the rollback failed", "left at zero")
    return before, Side(reached, f"{previous or 'unknown'} (untouched)")


def _short(task_definition: Any) -> str | None:
    return str(task_definition).rsplit("/", 1)[-1] if task_definition else None


def _fit_width(svg: str) -> str:
    """Scale the picture to the page's width (its viewBox keeps the proportions)."""
    head, _, rest = svg.partition(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    return f'{head} style="width:100%;height:auto">{rest}'


def _id(name: str) -> str:
    return _quote(name)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
