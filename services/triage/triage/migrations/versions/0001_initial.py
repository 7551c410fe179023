"""Triage cases, plus the shared outbox, inbox, audit and idempotency tables.

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


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "triage_case",
        sa.Column("case_reference", sa.String(32), primary_key=True),
        sa.Column("contact_id", sa.String(36), nullable=False, unique=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("threshold_decision_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("concern_summary", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("triage_case")
