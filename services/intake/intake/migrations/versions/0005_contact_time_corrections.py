"""Corrections of when a contact came in (who, role, why).

Revision ID: 0005_contact_time
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_contact_time"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_time_correction",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("contact_id", sa.String(36), sa.ForeignKey("contact.id"), nullable=False,
                  index=True),
        sa.Column("previous_received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason_code", sa.String(40), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("corrected_by", sa.String(200), nullable=False),
        sa.Column("corrected_by_role", sa.String(50), nullable=False),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contact_time_correction")
