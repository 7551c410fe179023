"""Referrers (agency and role only) and the notifications to send.

Revision ID: 0005_notifications
Revises: 0004_retention
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_notifications"
down_revision = "0004_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_referrer",
        sa.Column("case_reference", sa.String(32), primary_key=True),
        sa.Column("contact_id", sa.String(36), nullable=False),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(60), nullable=False),
        sa.Column("professional", sa.Boolean, nullable=False),
        sa.Column("hub_created", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recipient_role", sa.String(40), nullable=False),
        sa.Column("recipient_agency", sa.String(60), nullable=False),
        sa.Column("caused_by_event_id", sa.String(36), nullable=False),
        sa.Column("caused_by_event_type", sa.String(120), nullable=False),
        sa.Column("detail", sa.String(120), nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True, index=True),
        sa.Column("last_failure_code", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("caused_by_event_id", "kind", "recipient_role", "recipient_agency",
                            name="uq_notification_cause"),
    )


def downgrade() -> None:
    op.drop_table("notification")
    op.drop_table("notify_referrer")
