"""Escalations of professional disagreement.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "strategy_escalation",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("about", sa.String(40), nullable=False),
        sa.Column("raised_by", sa.String(128), nullable=False),
        sa.Column("raised_by_role", sa.String(40), nullable=False),
        sa.Column("raised_by_agency", sa.String(40), nullable=False),
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("escalated_to", sa.Text, nullable=False),
        sa.Column("stage_raised_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("history", sa.Text, nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_table("strategy_escalation")
