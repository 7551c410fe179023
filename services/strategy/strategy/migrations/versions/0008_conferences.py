"""Child protection conferences, their agency reports and the children's plans (issue 15).

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "strategy_conference",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("conference_kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("s47_strategy_meeting_id", sa.String(36), nullable=True, index=True),
        sa.Column("s47_started_at", TZ, nullable=True),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("child_numbers", sa.Text, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("scheduled_for", TZ, nullable=True),
        sa.Column("chaired_by_iro", sa.String(128), nullable=True),
        sa.Column("invitees", sa.Text, nullable=False, server_default="[]"),
        sa.Column("family_not_invited_reason", sa.Text, nullable=True),
        sa.Column("sequence", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("scheduled_at", TZ, nullable=True),
        sa.Column("held_at", TZ, nullable=True),
        sa.Column("attendees", sa.Text, nullable=False, server_default="[]"),
        sa.Column("decisions", sa.Text, nullable=False, server_default="[]"),
        sa.Column("decision_summary", sa.Text, nullable=True),
    )
    op.create_table(
        "strategy_conference_report",
        sa.Column("conference_id", sa.String(36), sa.ForeignKey("strategy_conference.id"),
                  primary_key=True),
        sa.Column("agency", sa.String(40), primary_key=True),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=True),
        sa.Column("received_by", sa.String(128), nullable=True),
    )
    op.create_table(
        "strategy_cp_plan",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("child_number", sa.Integer, nullable=False),
        sa.Column("icpc_id", sa.String(36), sa.ForeignKey("strategy_conference.id"),
                  nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("category_of_abuse", sa.Text, nullable=False),
        sa.Column("core_group", sa.Text, nullable=False),
        sa.Column("outline_plan", sa.Text, nullable=True),
        sa.Column("first_review_due_on", sa.Date, nullable=False),
        sa.Column("started_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("strategy_cp_plan")
    op.drop_table("strategy_conference_report")
    op.drop_table("strategy_conference")
