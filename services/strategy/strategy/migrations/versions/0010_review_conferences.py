"""Review conferences and the plan's ending (issue 15).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("strategy_cp_plan", sa.Column("next_review_due_on", sa.Date, nullable=True))
    op.add_column("strategy_cp_plan", sa.Column("ended_at", TZ, nullable=True))
    op.add_column("strategy_cp_plan", sa.Column("end_reason", sa.String(40), nullable=True))
    op.add_column("strategy_cp_plan", sa.Column("ended_by_review", sa.String(36),
                                                nullable=True))
    op.create_table(
        "strategy_review_conference",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("strategy_cp_plan.id"),
                  nullable=False, index=True),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("first", sa.Boolean, nullable=False),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("scheduled_for", TZ, nullable=False),
        sa.Column("chaired_by_iro", sa.String(128), nullable=False),
        sa.Column("invitees", sa.Text, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scheduled_at", TZ, nullable=False),
        sa.Column("held_at", TZ, nullable=True),
        sa.Column("attendees", sa.Text, nullable=False, server_default="[]"),
        sa.Column("decision", sa.String(30), nullable=True),
        sa.Column("category_of_abuse", sa.Text, nullable=True),
        sa.Column("next_review_due_on", sa.Date, nullable=True),
        sa.Column("rationale", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("strategy_review_conference")
    for column in ("ended_by_review", "end_reason", "ended_at", "next_review_due_on"):
        op.drop_column("strategy_cp_plan", column)
