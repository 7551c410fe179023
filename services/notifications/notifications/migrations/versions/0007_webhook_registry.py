"""The webhook registry: partner endpoints per partnership and agency, and their secrets
(encrypted) for rotation without downtime (notifications/webhooks.py).

Revision ID: 0007_webhook_registry
Revises: 0006_parked_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_webhook_registry"
down_revision = "0006_parked_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("agency", sa.String(60), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
    )
    # One live endpoint per partnership and agency (two registrations at once: one wins).
    op.create_index("uq_webhook_endpoint_live", "webhook_endpoint", ["partnership", "agency"],
                    unique=True, postgresql_where=sa.text("deleted_at IS NULL"),
                    sqlite_where=sa.text("deleted_at IS NULL"))
    op.create_table(
        "webhook_secret",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("endpoint_id", sa.String(36), sa.ForeignKey("webhook_endpoint.id"),
                  nullable=False, index=True),
        sa.Column("encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_secret")
    op.drop_table("webhook_endpoint")
