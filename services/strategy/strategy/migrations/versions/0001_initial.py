"""The shared outbox, inbox, audit and idempotency tables.

Revision ID: 0001
Revises:
"""

from alembic import op

from mashcore.migrations import create_messaging_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_messaging_tables()


def downgrade() -> None:
    for table in ("idempotency_key", "audit_log", "inbox", "outbox"):
        op.drop_table(table)
