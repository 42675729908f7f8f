"""The schema review of a project's pending revisions: real alembic offline SQL, real squawk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pushgate import settings
from pushgate.errors import InvalidRequest, SchemaChangeRejected, SchemaReviewFailed
from pushgate.migrator.plan import make_plan, offline_sql
from pushgate.migrator.scripts import Revision, RevisionGraph
from pushgate.review import MOOT, RULES, SchemaReviewer, enforce, full_result, summary
from pushgate.review.config import reviewer_from_env
from pushgate.review.render import pending_sql, split_offline_sql
from pushgate.review.squawk import Squawk
from pushgate.review.summary import MAX_FULL_BYTES, MAX_SUMMARY_FINDINGS
from pushgate.versiontable import VersionTable

from tests.helpers import CHAIN, HEAD, MIGRATIONS
from tests.review_projects import (
    ADD_EMAIL,
    CREATE_USERS,
    DROP_NICKNAME,
    PLAIN_INDEX,
    READS_THE_DATABASE,
    SQUAWK,
    write_revision,
)

pytestmark = pytest.mark.unit


def reviewer(policy: str = "enforce") -> SchemaReviewer:
    return reviewer_from_env({settings.SCHEMA_POLICY: policy, settings.SQUAWK_PATH: str(SQUAWK)})


def project(tmp_path: Path, second: str, extra: str = "") -> RevisionGraph:
    """users (r1), then the revision under review (r2) whose upgrade runs ``second``."""
    versions = tmp_path / "versions"
    write_revision(versions, "r1", None, CREATE_USERS, '    op.drop_table("users")\n')
    write_revision(versions, "r2", "r1", second, extra=extra)
    return RevisionGraph(tmp_path)


def test_a_safe_revision_is_safe_and_nothing_is_enforced(tmp_path: Path) -> None:
    """GIVEN a pending revision that adds a nullable column WHEN reviewed THEN its verdict is
    safe, nothing is destructive, and enforce lets it through."""
    review = reviewer().review_graph(project(tmp_path, ADD_EMAIL), "r1", "18.1")

    assert (review.verdict, review.destructive, review.counts) == (
        "safe",
        False,
        {"safe": 1, "blocks-serving": 0, "breaks-serving": 0},
    )
    assert review.findings == []
    enforce(review)  # nothing raised


def test_a_dropped_column_breaks_serving_and_enforce_rejects_it(tmp_path: Path) -> None:
    """GIVEN a pending revision dropping a column WHEN reviewed under enforce THEN it breaks
    serving, is destructive, and the rejection names revision, statement, rule, way out."""
    review = reviewer().review_graph(project(tmp_path, DROP_NICKNAME), "r1")

    assert (review.verdict, review.destructive) == ("breaks-serving", True)
    first = review.findings[0]
    assert (first.revision, first.rule, first.statement) == (
        "r2",
        "ban-drop-column",
        "ALTER TABLE users DROP COLUMN nickname;",
    )
    with pytest.raises(SchemaChangeRejected) as rejected:
        enforce(review)
    words = str(rejected.value)
    for part in ("r2", "ALTER TABLE users DROP COLUMN nickname;", "ban-drop-column", "two pushes"):
        assert part in words


def test_under_warn_a_dropped_column_is_reported_not_rejected(tmp_path: Path) -> None:
    review = reviewer("warn").review_graph(project(tmp_path, DROP_NICKNAME), "r1")

    assert review.verdict == "breaks-serving"
    enforce(review)  # warn: nothing raised
    assert summary(review)["policy"] == "warn"


def test_pushgate_accept_lets_the_named_rule_through_and_says_why(tmp_path: Path) -> None:
    """GIVEN the revision accepts ban-drop-column WHEN reviewed under enforce THEN the finding
    carries the reason, does not count, and the upgrade is still destructive (issue 12)."""
    accept = 'pushgate_accept = {"ban-drop-column": "contract: 2.3 stopped reading nickname"}'
    review = reviewer().review_graph(project(tmp_path, DROP_NICKNAME, accept), "r1")

    enforce(review)  # nothing raised
    assert (review.verdict, review.accepted, review.destructive) == ("safe", 1, True)
    assert summary(review)["findings"][0]["accepted"] == "contract: 2.3 stopped reading nickname"


def test_accepting_another_rule_does_not_let_a_dropped_column_through(tmp_path: Path) -> None:
    accept = 'pushgate_accept = {"renaming-column": "not this one"}'
    review = reviewer().review_graph(project(tmp_path, DROP_NICKNAME, accept), "r1")

    with pytest.raises(SchemaChangeRejected):
        enforce(review)


def test_a_non_concurrent_index_blocks_serving_but_is_not_rejected(tmp_path: Path) -> None:
    review = reviewer().review_graph(project(tmp_path, ADD_EMAIL + PLAIN_INDEX), "r1")

    assert (review.verdict, review.destructive) == ("blocks-serving", False)
    assert [f.rule for f in review.findings] == ["require-concurrent-index-creation"]
    assert review.findings[0].statement == "CREATE INDEX ix_users_email ON users (email);"
    enforce(review)  # blocks-serving never rejects


def test_a_revision_that_cannot_be_rendered_breaks_serving_unless_accepted(
    tmp_path: Path,
) -> None:
    """GIVEN a revision that reads the database WHEN reviewed THEN a finding names it and its
    error; enforce rejects it, unless it accepts "unrenderable"."""
    review = reviewer().review_graph(project(tmp_path, READS_THE_DATABASE), "r1")

    first = review.findings[0]
    assert (first.revision, first.rule, first.verdict) == ("r2", "unrenderable", "breaks-serving")
    assert "AttributeError" in first.message
    with pytest.raises(SchemaChangeRejected, match="r2"):
        enforce(review)

    accept = 'pushgate_accept = {"unrenderable": "a data fix-up; reviewed by hand"}'
    accepted = reviewer().review_graph(project(tmp_path / "b", READS_THE_DATABASE, accept), "r1")
    enforce(accepted)


def test_a_malformed_pushgate_accept_accepts_nothing_and_says_so(tmp_path: Path) -> None:
    accept = 'pushgate_accept = {"ban-drop-colum": "typo"}'
    review = reviewer().review_graph(project(tmp_path, ADD_EMAIL, accept), "r1")

    assert [f.rule for f in review.findings] == ["invalid-pushgate-accept"]
    assert "ban-drop-colum" in review.findings[0].message
    assert review.verdict == "breaks-serving"


def test_the_rules_pushgate_makes_moot_never_appear(tmp_path: Path) -> None:
    """GIVEN SQL squawk would flag for lock and statement timeouts WHEN reviewed THEN no such
    rule is reported (pushgate sets both)."""
    review = reviewer().review_graph(project(tmp_path, DROP_NICKNAME + PLAIN_INDEX), "r1")

    assert {f.rule for f in review.findings} & set(MOOT) == set()


def test_the_downgrade_is_reviewed_but_gates_nothing(tmp_path: Path) -> None:
    """GIVEN the first revision's downgrade drops the table WHEN reviewed from base THEN the
    finding is shown as the downgrade's, and the verdict stays the upgrade's."""
    versions = tmp_path / "versions"
    write_revision(versions, "r1", None, CREATE_USERS, '    op.drop_table("users")\n')

    review = reviewer().review_graph(RevisionGraph(tmp_path), None)

    assert [(f.direction, f.rule) for f in review.findings] == [("downgrade", "ban-drop-table")]
    assert (review.verdict, review.destructive) == ("safe", False)


def test_nothing_pending_or_an_unknown_revision_has_nothing_to_review() -> None:
    graph = RevisionGraph(MIGRATIONS)

    for start in (HEAD, "0123abcd4567"):
        review = reviewer().review_graph(graph, start)
        assert (review.revisions, review.verdict) == ((), "safe")


def test_the_bundled_chain_renders_each_revision_upgrade_then_downgrade() -> None:
    rendered = pending_sql(RevisionGraph(MIGRATIONS), CHAIN[0], VersionTable())

    assert [(r.revision, r.direction) for r in rendered] == [
        (CHAIN[1], "upgrade"),
        (CHAIN[2], "upgrade"),
        (CHAIN[2], "downgrade"),
        (CHAIN[1], "downgrade"),
    ]
    assert all("alembic_version" not in r.sql and "BEGIN" not in r.sql for r in rendered)


def test_summary_and_full_result_stay_bounded(tmp_path: Path) -> None:
    """GIVEN 40 revisions, each dropping 30 columns WHEN reviewed THEN the summary carries at
    most 5 findings and the full result stays under its byte budget, saying what it left out."""
    versions = tmp_path / "versions"
    columns = "".join(f'        sa.Column("c{n}_{"x" * 40}", sa.Text),\n' for n in range(30))
    write_revision(versions, "r000", None, f'    op.create_table(\n        "t",\n{columns}    )\n')
    drops = "".join(f'    op.drop_column("t", "c{n}_{"x" * 40}")\n' for n in range(30))
    for n in range(1, 41):
        write_revision(versions, f"r{n:03d}", f"r{n - 1:03d}", drops)

    review = reviewer().review_graph(RevisionGraph(tmp_path), "r000")
    result = full_result(review)

    assert len(summary(review)["findings"]) == MAX_SUMMARY_FINDINGS
    assert len(json.dumps(result).encode()) <= MAX_FULL_BYTES
    assert result["omitted_findings"] > 0
    assert summary(review)["counts"]["breaks-serving"] == 40


def test_every_rule_in_the_table_is_one_the_pinned_squawk_knows() -> None:
    """GIVEN the verdict table and the moot rules WHEN each squawk rule is passed to the pinned
    squawk's --exclude THEN squawk accepts every name (a renamed rule fails here)."""
    own = {"unrenderable", "syntax-error", "invalid-pushgate-accept"}
    names = sorted((set(RULES) | set(MOOT)) - own)

    findings = Squawk(SQUAWK, exclude=names).lint({"a.sql": "SELECT 1;\n"})

    assert findings == []
    assert Squawk(SQUAWK, ()).version() == "2.68.0"


def test_squawk_missing_or_crashing_fails_the_review_loudly(tmp_path: Path) -> None:
    """GIVEN no binary, one that prints no report, one that prints something else WHEN the
    review runs THEN SchemaReviewFailed, never a silent pass."""
    absent = reviewer_from_env(
        {settings.SCHEMA_POLICY: "warn", settings.SQUAWK_PATH: str(tmp_path / "squawk")}
    )
    with pytest.raises(SchemaReviewFailed, match="squawk is not at"):
        absent.review_graph(RevisionGraph(MIGRATIONS), None)
    for program in ("/bin/false", "/bin/echo"):
        with pytest.raises(SchemaReviewFailed):
            Squawk(Path(program), ()).lint({"a.sql": "ALTER TABLE t DROP COLUMN c;\n"})


@pytest.mark.parametrize(
    "environ",
    [
        {settings.SQUAWK_PATH: str(SQUAWK)},
        {settings.SCHEMA_POLICY: "strict", settings.SQUAWK_PATH: str(SQUAWK)},
        {settings.SCHEMA_POLICY: "warn", settings.SQUAWK_PATH: "squawk"},
        {settings.SCHEMA_POLICY: "warn"},
    ],
)
def test_the_settings_are_required_and_checked(environ: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest):
        reviewer_from_env(environ)


def test_sql_rendered_as_one_run_splits_into_what_pending_sql_gives() -> None:
    """GIVEN the bundled chain rendered as one offline run (what `alembic upgrade base:head
    --sql` prints, as a task-runner image would) WHEN split per revision THEN each revision's
    SQL is exactly what pushgate renders for it, so review_rendered judges it the same."""
    graph = RevisionGraph(MIGRATIONS)
    table = VersionTable()
    plan = make_plan(graph, "upgrade", Revision(HEAD), None)
    one_run = offline_sql(graph, plan, table)

    split = split_offline_sql(one_run, table)

    upgrades = [r for r in pending_sql(graph, None, table) if r.direction == "upgrade"]
    assert "alembic_version" in one_run
    assert "BEGIN;" in one_run
    assert split == upgrades
    review = reviewer().review_rendered(split, {})
    assert [r.verdict for r in review.revisions] == ["safe", "safe", "blocks-serving"]
