"""Cases, lock-down lists, strategy discussions and s47 enquiries.

Revision ID: 0005
Revises: 0004_retention
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004_retention"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "strategy_case",
        sa.Column("case_reference", sa.String(32), primary_key=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("referrer_agency", sa.String(40), nullable=True),
        sa.Column("referrer_role", sa.String(200), nullable=True),
        sa.Column("restricted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_table(
        "strategy_case_access",
        sa.Column("case_reference", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
    )
    op.create_table(
        "strategy_discussion",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("correlation_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("urgency", sa.String(30), nullable=False),
        sa.Column("child_numbers", sa.Text, nullable=False),
        sa.Column("follows_meeting_id", sa.String(36), nullable=True),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("requested_by_role", sa.String(40), nullable=False),
        sa.Column("requested_by_agency", sa.String(40), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("format", sa.String(20), nullable=True),
        sa.Column("starts_at", TZ, nullable=True),
        sa.Column("ends_at", TZ, nullable=True),
        sa.Column("location", sa.String(500), nullable=True),
        sa.Column("dial_in", sa.String(500), nullable=True),
        sa.Column("organiser_id", sa.String(128), nullable=True),
        sa.Column("organiser_role", sa.String(40), nullable=True),
        sa.Column("chair_id", sa.String(128), nullable=True),
        sa.Column("invitees", sa.Text, nullable=False, server_default="[]"),
        sa.Column("referrer_invited", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("sequence", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("cancelled_reason", sa.Text, nullable=True),
        sa.Column("held_at", TZ, nullable=True),
        sa.Column("attendees", sa.Text, nullable=False, server_default="[]"),
        sa.Column("apologies", sa.Text, nullable=False, server_default="[]"),
        sa.Column("criminal_investigation", sa.String(20), nullable=True),
        sa.Column("criminal_investigation_start_by", TZ, nullable=True),
        sa.Column("s47_decisions", sa.Text, nullable=False, server_default="[]"),
        sa.Column("s47_decision_rationale", sa.Text, nullable=True),
        sa.Column("actions", sa.Text, nullable=False, server_default="[]"),
        sa.Column("minutes_due_at", TZ, nullable=True),
        sa.Column("minutes", sa.Text, nullable=True),
        sa.Column("signed_off_by", sa.String(128), nullable=True),
        sa.Column("signed_off_at", TZ, nullable=True),
        sa.Column("circulated_at", TZ, nullable=True),
    )
    op.create_table(
        "strategy_s47_enquiry",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("child_number", sa.Integer, nullable=False),
        sa.Column("meeting_id", sa.String(36), sa.ForeignKey("strategy_discussion.id"),
                  nullable=False),
        sa.Column("started_at", TZ, nullable=False),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("next_step", sa.String(40), nullable=True),
        sa.Column("rationale", sa.Text, nullable=True),
        sa.Column("recorded_by", sa.String(128), nullable=True),
        sa.Column("recorded_by_agency", sa.String(40), nullable=True),
        sa.Column("recorded_at", TZ, nullable=True),
        sa.Column("agreed_by", sa.String(128), nullable=True),
        sa.Column("agreed_by_agency", sa.String(40), nullable=True),
        sa.Column("agreement_rationale", sa.Text, nullable=True),
        sa.Column("agreed_at", TZ, nullable=True),
    )
    # One s47 enquiry in progress per child of a case: a second discussion deciding s47
    # for the same child continues it (starts_s47 false), never opens another.
    op.create_index(
        "strategy_one_open_s47_per_child", "strategy_s47_enquiry",
        ["case_reference", "child_number"], unique=True,
        postgresql_where=sa.text("status <> 'concluded'"),
        sqlite_where=sa.text("status <> 'concluded'"),
    )


def downgrade() -> None:
    op.drop_index("strategy_one_open_s47_per_child", table_name="strategy_s47_enquiry")
    for table in ("strategy_s47_enquiry", "strategy_discussion", "strategy_case_access",
                  "strategy_case"):
        op.drop_table(table)
