"""The outbox relay's queue index (mashcore.migrations.create_pending_outbox_index).

Revision ID: 0009_pending_outbox
Revises: 0008_domestic_abuse_flag
"""

from mashcore.migrations import create_pending_outbox_index, drop_pending_outbox_index

revision = "0009_pending_outbox"
down_revision = "0008_domestic_abuse_flag"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_pending_outbox_index()


def downgrade() -> None:
    drop_pending_outbox_index()
