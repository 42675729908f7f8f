"""Alembic projects written for the schema review's tests: one revision file per call."""

from __future__ import annotations

from pathlib import Path

from pushgate_cli.handlers import REPO_ROOT

SQUAWK = REPO_ROOT / ".venv" / "bin" / "squawk"  # requirements/dev.txt pins squawk-cli 2.68.0

CREATE_USERS = """
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("nickname", sa.Text),
    )
"""
ADD_EMAIL = '    op.add_column("users", sa.Column("email", sa.Text, nullable=True))\n'
DROP_NICKNAME = '    op.drop_column("users", "nickname")\n'
PLAIN_INDEX = '    op.create_index("ix_users_email", "users", ["email"])\n'
READS_THE_DATABASE = '    op.get_bind().execute(sa.text("SELECT 1")).fetchall()\n'


def write_revision(
    versions: Path,
    revision: str,
    down: str | None,
    upgrade: str,
    downgrade: str = "    pass\n",
    extra: str = "",
) -> Path:
    """A revision file ``versions/<revision>.py`` whose functions run ``upgrade``/``downgrade``
    (indented bodies) and whose module holds ``extra`` (e.g. a pushgate_accept)."""
    versions.mkdir(parents=True, exist_ok=True)
    path = versions / f"{revision}.py"
    header = (
        f'"""{revision}"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {revision!r}\ndown_revision = {down!r}\n{extra}\n"
    )
    path.write_text(
        f"{header}\n\ndef upgrade() -> None:\n{upgrade}\n\ndef downgrade() -> None:\n{downgrade}"
    )
    return path
