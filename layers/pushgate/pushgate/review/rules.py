"""The one table: each squawk rule -> what it means for the version still serving.

pushgate migrates **before** the new version serves, so while the rollout runs the old version
serves against the new schema. Every finding sorts into one verdict:

- ``breaks-serving``: the old version still serving fails against it (a dropped or renamed
  column or table, a changed type, a new NOT NULL column without a default, ...);
- ``blocks-serving``: it takes a lock that stops reads or writes while it runs (a non-concurrent
  index, a constraint without NOT VALID, a table rewrite, ...);
- ``safe``: neither (a style or future-proofing note; shown, never gating).

``destructive``: the statement drops or rewrites something that holds data (a snapshot before
the upgrade is worth taking, issue 12). Rules that pushgate's own guarantees make moot are in
:data:`MOOT`, each with its reason: they are passed to squawk as ``--exclude`` and drop out.

Written for squawk 2.68.0 (``requirements/dev.txt``, ``layers/squawk/Makefile``); a rule
this table does not know (a newer squawk) is ``blocks-serving`` (:data:`UNKNOWN_RULE`): shown
and counted, never gating on its own, never a silent pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Verdict = Literal["safe", "blocks-serving", "breaks-serving"]
VERDICTS: Final[tuple[Verdict, ...]] = ("safe", "blocks-serving", "breaks-serving")  # mild first

# pushgate's own findings, beside squawk's (a revision can accept the first two like any rule)
UNRENDERABLE: Final = "unrenderable"  # alembic's offline mode could not render the revision
SYNTAX_ERROR: Final = "syntax-error"  # squawk could not parse what alembic rendered
INVALID_ACCEPT: Final = "invalid-pushgate-accept"  # the revision's pushgate_accept is malformed


@dataclass(frozen=True)
class RuleVerdict:
    """What a rule's finding means for the version still serving, and why."""

    verdict: Verdict
    why: str
    destructive: bool = False


def _breaks(why: str, *, destructive: bool = False) -> RuleVerdict:
    return RuleVerdict("breaks-serving", why, destructive)


def _blocks(why: str, *, destructive: bool = False) -> RuleVerdict:
    return RuleVerdict("blocks-serving", why, destructive)


def _safe(why: str) -> RuleVerdict:
    return RuleVerdict("safe", why)


RULES: Final[dict[str, RuleVerdict]] = {
    # --- the old version's queries fail against the new schema
    "ban-drop-column": _breaks("the old version still reads or writes it", destructive=True),
    "ban-drop-table": _breaks("the old version still reads or writes it", destructive=True),
    "renaming-column": _breaks("the old version still uses the old name"),
    "renaming-table": _breaks("the old version still uses the old name"),
    "renaming-object": _breaks("the old version still uses the old name"),
    "changing-column-type": _breaks(
        "the old version reads and writes the old type (and the table is rewritten)",
        destructive=True,
    ),
    "adding-required-field": _breaks("the old version's INSERTs do not set the new column"),
    "ban-drop-not-null": _breaks("the old version may read NULLs it never expected"),
    "ban-drop-default": _breaks("the old version's INSERTs relied on the default"),
    "ban-drop-constraint": _breaks("the old version relies on it (ON CONFLICT, a guarantee)"),
    "ban-drop-index": _breaks("a unique index the old version's ON CONFLICT needs"),
    "ban-drop-type": _breaks("the old version still uses it", destructive=True),
    "ban-drop-view": _breaks("the old version still reads it"),
    "ban-drop-function": _breaks("the old version still calls it"),
    "ban-drop-sequence": _breaks("the old version's defaults still draw from it"),
    "ban-drop-trigger": _breaks("the old version relies on what it does"),
    "ban-drop-policy": _breaks("the old version's role relies on it"),
    "ban-drop-schema": _breaks("the old version still uses it", destructive=True),
    "ban-drop-domain": _breaks("the old version's columns use it", destructive=True),
    "ban-drop-extension": _breaks("the old version uses its types or functions"),
    "ban-drop-database": _breaks("the old version serves from it", destructive=True),
    "ban-drop-generated-expression": _breaks("the old version relies on the computed value"),
    "ban-alter-generated-expression": _breaks(
        "the old version relies on the computed value", destructive=True
    ),
    "ban-alter-identity": _breaks("the old version's INSERTs relied on the identity"),
    "ban-set-schema": _breaks("the old version still finds it in its schema"),
    "ban-set-default": _breaks("the old version relied on the old default"),
    "ban-replace-view-function": _breaks("the old version relies on the old definition"),
    "ban-revoke": _breaks("the old version's role still needs the privilege"),
    "ban-disable-trigger": _breaks("the old version relies on what it does"),
    "ban-truncate-cascade": _breaks("it empties tables the old version serves", destructive=True),
    "ban-new-write-restriction": _breaks("the old version's writes may now be refused"),
    "ban-detach-inheritance": _breaks("the old version's queries of the parent lose those rows"),
    "ban-alter-sequence-values": _breaks("the old version's ids may collide"),
    "ban-add-enum-value": _breaks("the old version may read a value it does not know"),
    # --- a lock stops reads or writes while it runs
    "require-concurrent-index-creation": _blocks("CREATE INDEX blocks writes while it builds"),
    "require-concurrent-index-deletion": _blocks("DROP INDEX takes an ACCESS EXCLUSIVE lock"),
    "require-concurrent-reindex": _blocks("REINDEX blocks writes while it runs"),
    "require-concurrent-partition-detach": _blocks("DETACH PARTITION blocks reads and writes"),
    "constraint-missing-not-valid": _blocks("the table is scanned under a lock that stops writes"),
    "adding-foreign-key-constraint": _blocks("both tables' writes stop while it is validated"),
    "adding-not-nullable-field": _blocks("SET NOT NULL scans the table under ACCESS EXCLUSIVE"),
    "adding-field-with-default": _blocks(
        "a volatile default or a generated column rewrites the table", destructive=True
    ),
    "adding-serial-primary-key-field": _blocks("the index is built under ACCESS EXCLUSIVE"),
    "disallowed-unique-constraint": _blocks("the index is built under ACCESS EXCLUSIVE"),
    "ban-alter-domain-with-add-constraint": _blocks("every column of the domain is scanned"),
    "prefer-repack": _blocks("VACUUM FULL / CLUSTER rewrite the table under ACCESS EXCLUSIVE"),
    # --- neither: style, future-proofing, or a statement the run itself would refuse
    "prefer-bigint-over-int": _safe("style: int ids may run out one day"),
    "prefer-bigint-over-smallint": _safe("style: smallint ids may run out one day"),
    "prefer-identity": _safe("style: serial columns are harder to manage"),
    "prefer-text-field": _safe("future-proofing: widening a varchar later takes a lock"),
    "prefer-timestamp-tz": _safe("style: timestamp without time zone drops the offset"),
    "ban-char-field": _safe("style: char(n) pads with spaces"),
    "require-enum-value-ordering": _safe("style: a new value goes last unless placed"),
    "ban-create-domain-with-constraint": _safe("future-proofing: such a domain is hard to alter"),
    "identifier-too-long": _safe("PostgreSQL cuts it to 63 bytes: the name is not the one given"),
    "ban-duplicate-column-assignments": _safe("PostgreSQL refuses it: the run fails, nothing done"),
    "ban-concurrent-index-creation-in-transaction": _safe(
        "PostgreSQL refuses it in a transaction: the run fails and rolls back, nothing served "
        "changes (use op.get_context().autocommit_block())"
    ),
    "prefer-robust-stmts": _safe(
        "raised only outside the run's transaction (an autocommit block, with "
        "--assume-in-transaction), where a rerun can meet a half-done statement"
    ),
    "ban-add-column": _safe("adding a column does not break the old version"),
    "ban-add-composite-attribute": _safe("adding an attribute does not break the old version"),
    # --- pushgate's own
    UNRENDERABLE: _breaks(
        "alembic's offline mode could not render it (it reads the database?): nothing can be "
        "vouched for",
        destructive=True,
    ),
    SYNTAX_ERROR: _breaks(
        "squawk could not parse what alembic rendered: nothing can be vouched for",
        destructive=True,
    ),
    INVALID_ACCEPT: _breaks("its pushgate_accept is not {rule: reason}: nothing is accepted"),
}

# Rules pushgate's own guarantees make moot: passed to squawk as --exclude, never reported.
MOOT: Final[dict[str, str]] = {
    "require-lock-timeout": "pushgate sets lock_timeout on the migration's connection "
    "(MigrationLockTimeoutMs)",
    "require-statement-timeout": "pushgate sets statement_timeout on the migration's connection "
    "(MigrationStatementTimeoutMs, capped by the Lambda's deadline)",
    "require-timeout-settings": "the older name of the two rules above",
    "transaction-nesting": "pushgate's runner owns the transaction; an autocommit block's "
    "COMMIT/BEGIN is its own (each revision is then committed on its own)",
    "ban-uncommitted-transaction": "each rendered revision is a fragment of pushgate's "
    "transaction, which pushgate commits",
}

UNKNOWN_RULE: Final = _blocks(
    "a rule this table does not know (a squawk newer than 2.68.0?): shown, not judged"
)

# Rules squawk raises on the SQL's own grammar, not as findings of a rule
PARSE_ERRORS: Final = frozenset({SYNTAX_ERROR})
# pushgate's own rules that a revision may not accept
NOT_ACCEPTABLE: Final = frozenset({INVALID_ACCEPT})


def verdict_of(rule: str) -> RuleVerdict:
    """The table's entry for ``rule`` (:data:`UNKNOWN_RULE` when it has none)."""
    return RULES.get(rule, UNKNOWN_RULE)


def worst(verdicts: list[Verdict]) -> Verdict:
    """The most severe of ``verdicts`` (``safe`` when there are none)."""
    return max(verdicts, key=VERDICTS.index, default="safe")
