"""Contacts, plus the shared outbox, inbox, audit and idempotency tables.

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
        "contact",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_reference", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("referrer_agency", sa.String(100), nullable=False, index=True),
        sa.Column("referrer_subject", sa.String(200), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contact")
