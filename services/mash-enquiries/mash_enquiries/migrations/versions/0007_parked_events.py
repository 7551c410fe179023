"""Parked events: consumed events waiting for a prerequisite (mashcore/parking.py).

Revision ID: 0007_parked_events
Revises: 0006_retention
"""

from alembic import op

from mashcore.migrations import create_parking_table

revision = "0007_parked_events"
down_revision = "0006_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_parking_table()


def downgrade() -> None:
    op.drop_index("ix_parked_event_case", table_name="parked_event")
    op.drop_table("parked_event")
