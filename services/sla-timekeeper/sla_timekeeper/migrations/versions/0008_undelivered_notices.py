"""Notices never delivered (notification.failed, not retried), for the dashboard: codes only.

Revision ID: 0008_undelivered_notices
Revises: 0007_parked_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_undelivered_notices"
down_revision = "0007_parked_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "undelivered_notice",
        sa.Column("notification_id", sa.String(36), primary_key=True),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("case_reference", sa.String(32), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_undelivered_notice_since", "undelivered_notice",
                    ["since", "partnership"])


def downgrade() -> None:
    op.drop_table("undelivered_notice")
