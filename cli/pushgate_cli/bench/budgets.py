"""The budgets of a deploy, how a figure is judged against one, and the report they fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from pushgate_cli.bench.table import Section, Verdict

# --- budgets (issues 5 and 13) ----------------------------------------------------------------
# cold starts on python3.13 from the built layer (a new function: the closest one's budget)
CHECK_DATABASE_COLD_START_MS: Final = 100.0
RUN_MIGRATIONS_VS_ALEMBIC: Final = 1.2  # run_migrations' import / `import alembic`'s
PREPARE_ROLLOUT_COLD_START_MS: Final = 300.0
# PushgateLayer alone (another layer, e.g. a linter binary, gets a line of its own)
LAYER_UNZIPPED_BYTES: Final = 30 * 1024 * 1024
LAYER_ZIPPED_BYTES: Final = 8 * 1024 * 1024
# SquawkLayer (issue 11): squawk 2.68.0's aarch64 binary, about 17 MiB / 7 MiB; its own line
SQUAWK_LAYER_UNZIPPED_BYTES: Final = 20 * 1024 * 1024
WARM_UPGRADE_AT_HEAD_MS: Final = 20.0
# issue 14: what pushgate adds to a deploy at the shipped settings, and a 5-minute rollout's cost
OWN_OVERHEAD_MS: Final = 3000.0
ROLLOUT_TRANSITIONS: Final = 40  # issue 14; a safety poll is one transition (the wait's Retry)
# issue 9: reading the scripts out of a ~200 MB image, against streaming its blobs alone
IMAGE_COLD_VS_STREAMING: Final = 1.3
IMAGE_WARM_MS: Final = 5.0


def judge(value: float, limit: float) -> Verdict:
    """PASS when the value is within its budget (equal counts as within)."""
    return "PASS" if value <= limit else "OVER"


class MeasurementError(Exception):
    """A figure could not be measured (the bench exits non-zero)."""


@dataclass
class Report:
    """What the measurements found: the table's sections, the JSON's figures, each budget."""

    sections: list[Section] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    budgets: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def budget(
        self, name: str, value: float, limit: float, unit: str, budget_text: str
    ) -> tuple[str, Verdict]:
        """Judge a figure, record the verdict, and return the budget cell and the verdict."""
        verdict = judge(value, limit)
        self.budgets.append(
            {"name": name, "value": value, "limit": limit, "unit": unit, "verdict": verdict}
        )
        return budget_text, verdict

    def expectation(self, name: str, found: list[str], unit: str) -> Verdict:
        """A budget of "none of these": PASS when nothing was found."""
        verdict: Verdict = "PASS" if not found else "OVER"
        self.budgets.append(
            {"name": name, "value": found, "limit": [], "unit": unit, "verdict": verdict}
        )
        return verdict
