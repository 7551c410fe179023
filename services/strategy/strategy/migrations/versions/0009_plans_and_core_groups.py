"""The plans' actions, the child's copy, and core group meetings (issue 15).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("strategy_cp_plan", sa.Column("copy_given_on", sa.Date, nullable=True))
    op.add_column("strategy_cp_plan", sa.Column("copy_form", sa.String(30), nullable=True))
    op.add_column("strategy_cp_plan", sa.Column("copy_language", sa.String(40), nullable=True))
    op.create_table(
        "strategy_cp_plan_action",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("strategy_cp_plan.id"),
                  nullable=False, index=True),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("owner_role", sa.String(40), nullable=False),
        sa.Column("owner_agency", sa.String(40), nullable=True),
        sa.Column("due_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_at_meeting", sa.String(36), nullable=True),
    )
    op.create_table(
        "strategy_core_group",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("strategy_cp_plan.id"),
                  nullable=False, index=True),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("first", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("scheduled_for", TZ, nullable=False),
        sa.Column("invitees", sa.Text, nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scheduled_at", TZ, nullable=False),
        sa.Column("held_at", TZ, nullable=True),
        sa.Column("chaired_by", sa.String(128), nullable=True),
        sa.Column("chaired_by_role", sa.String(20), nullable=True),
        sa.Column("attendees", sa.Text, nullable=False, server_default="[]"),
        sa.Column("minutes_due_at", TZ, nullable=True),
        sa.Column("minutes", sa.Text, nullable=True),
        sa.Column("circulated_at", TZ, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("strategy_core_group")
    op.drop_table("strategy_cp_plan_action")
    for column in ("copy_language", "copy_form", "copy_given_on"):
        op.drop_column("strategy_cp_plan", column)
