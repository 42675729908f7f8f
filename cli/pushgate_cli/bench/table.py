"""The bench's one table: a title line per section, then label | value | budget | verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["PASS", "OVER"]


@dataclass(frozen=True)
class Row:
    label: str
    value: str
    budget: str = ""
    verdict: Verdict | None = None


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]


def render_table(sections: Sequence[Section], heading: str = "") -> str:
    """One table: a title line per section, then label | value | budget | verdict rows."""
    rows = [row for section in sections for row in section.rows]
    header = Row("measure", "value", "budget", None)
    widths = [
        max(len(r.label) + 2 for r in [*rows, header]),
        max(len(r.value) for r in [*rows, header]),
        max(len(r.budget) for r in [*rows, header]),
    ]

    def line(row: Row, indent: str = "  ") -> str:
        cells = [
            (indent + row.label).ljust(widths[0]),
            row.value.ljust(widths[1]),
            row.budget.ljust(widths[2]),
            row.verdict or ("verdict" if row is header else ""),
        ]
        return "  ".join(cells).rstrip()

    out = [heading] if heading else []
    out.append(line(header, indent=""))
    out.append("-" * len(out[-1]))
    for section in sections:
        out.append(section.title)
        out.extend(line(row) for row in section.rows)
    return "\n".join(out)


def fmt_ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


def fmt_bytes(value: float) -> str:
    if value >= 1024 * 1024:
        return f"{value / 1024 / 1024:.1f} MiB"
    return f"{value / 1024:.1f} KiB"


def fmt_usd(value: float) -> str:
    """Dollars with three significant digits, never in scientific notation."""
    if value <= 0:
        return "$0.00"
    decimals = max(2, 2 - math.floor(math.log10(value)))
    return f"${value:.{decimals}f}"
