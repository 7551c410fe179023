"""Every published clock transition, by code, for the dashboard's and /metrics' counts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sla_transition",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("clock_id", sa.String(36), nullable=False, index=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("clock", sa.String(40), nullable=False),
        sa.Column("case_reference", sa.String(32), nullable=False),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("on_time", sa.Boolean, nullable=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
    )
    op.create_index("ix_sla_transition_recorded", "sla_transition",
                    ["recorded_at", "partnership"])


def downgrade() -> None:
    op.drop_table("sla_transition")
