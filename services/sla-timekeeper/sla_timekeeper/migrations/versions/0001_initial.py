"""Clocks, plus the shared outbox, inbox, audit and idempotency tables.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from mashcore.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "sla_clock",
        sa.Column("clock_id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("clock", sa.String(40), nullable=False, index=True),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("instance", sa.String(64), nullable=False, server_default=""),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("brag", sa.String(8), nullable=True),
        sa.Column("agency", sa.String(30), nullable=True),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("national_return_started_at", TZ, nullable=True),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("duration", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False, index=True),
        sa.Column("warned", sa.String(100), nullable=False, server_default="[]"),
        sa.Column("breached", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("next_wake_at", TZ, nullable=True, index=True),
    )


def downgrade() -> None:
    op.drop_table("sla_clock")
    for table in ("idempotency_key", "audit_log", "inbox", "outbox"):
        op.drop_table(table)
