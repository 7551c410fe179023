"""Consultations (confidential log) and transfer-in notifications.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # The confidential consultation log (DOMAIN.md §3): no case reference, no contact.
    op.create_table(
        "consultation",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("professional_agency", sa.String(100), nullable=False),
        sa.Column("professional_role", sa.String(100), nullable=False),
        sa.Column("submitted_by_agency", sa.String(100), nullable=False, index=True),
        sa.Column("submitted_by_role", sa.String(50), nullable=False),
        sa.Column("submitted_by_subject", sa.String(200), nullable=False),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("child_details", sa.Text, nullable=True),
        sa.Column("consulted_at", _tz(), nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("advice_given", sa.Text, nullable=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("advice_given_by", sa.String(128), nullable=True),
        sa.Column("advice_given_by_role", sa.String(50), nullable=True),
        sa.Column("advice_recorded_at", _tz(), nullable=True),
    )
    # Transfers in under a child protection plan (SOC 1233, [002 §8]).
    op.create_table(
        "transfer_in",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_reference", sa.String(32), nullable=False, unique=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("from_authority", sa.String(100), nullable=False),
        sa.Column("submitted_by_agency", sa.String(100), nullable=False),
        sa.Column("submitted_by_role", sa.String(50), nullable=False),
        sa.Column("submitted_by_subject", sa.String(200), nullable=False),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("child_protection_plan", sa.Text, nullable=False),
        sa.Column("received_at", _tz(), nullable=False),
        sa.Column("arrangement", sa.String(20), nullable=True),
        sa.Column("decision_rationale", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_by_role", sa.String(50), nullable=True),
        sa.Column("decided_at", _tz(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("transfer_in")
    op.drop_table("consultation")
