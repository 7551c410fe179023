"""The outbox relay's queue index (mashcore.migrations.create_pending_outbox_index).

Revision ID: 0008_pending_outbox
Revises: 0007_parked_events
"""

from mashcore.migrations import create_pending_outbox_index, drop_pending_outbox_index

revision = "0008_pending_outbox"
down_revision = "0007_parked_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_pending_outbox_index()


def downgrade() -> None:
    drop_pending_outbox_index()
