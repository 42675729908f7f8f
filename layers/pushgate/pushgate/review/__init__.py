"""Review the schema change before it runs: squawk's verdicts in the deploy path (issue 11).

One job per module:

- :mod:`~pushgate.review.rules`: the ONE table, squawk rule -> verdict (and the moot rules);
- :mod:`~pushgate.review.render`: each pending revision's offline SQL, upgrade and downgrade,
  in pushgate's own alembic environment;
- :mod:`~pushgate.review.squawk`: squawk run on it, its JSON report read;
- :mod:`~pushgate.review.accept`: a revision's ``pushgate_accept = {rule: reason}``;
- :mod:`~pushgate.review.verdicts`: the findings judged, a verdict per revision;
- :mod:`~pushgate.review.summary`: the bounded summary, the full result, the rejection's words;
- :mod:`~pushgate.review.reviewer`: :class:`SchemaReviewer`, which runs them in order;
- :mod:`~pushgate.review.config`: SCHEMA_POLICY and SQUAWK_PATH, read at cold start.

The names below are the package's public API.
"""

from __future__ import annotations

from pushgate.review.config import reviewer_from_env
from pushgate.review.render import RenderedSQL, pending_sql, split_offline_sql
from pushgate.review.reviewer import SchemaReviewer, enforce
from pushgate.review.rules import MOOT, RULES, Verdict
from pushgate.review.summary import ReviewSummary, full_result, summary
from pushgate.review.verdicts import Accepts, Policy, Review

__all__ = [
    "MOOT",
    "RULES",
    "Accepts",
    "Policy",
    "RenderedSQL",
    "Review",
    "ReviewSummary",
    "SchemaReviewer",
    "Verdict",
    "enforce",
    "full_result",
    "pending_sql",
    "reviewer_from_env",
    "split_offline_sql",
    "summary",
]
