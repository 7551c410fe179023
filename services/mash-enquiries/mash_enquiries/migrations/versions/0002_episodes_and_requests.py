"""Cases, lock-down lists, episodes and information requests.

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
        "enquiry_case",
        sa.Column("case_reference", sa.String(32), primary_key=True),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("children", sa.Text, nullable=False),
        sa.Column("family", sa.Text, nullable=False),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("restricted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_table(
        "enquiry_case_access",
        sa.Column("case_reference", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
    )
    op.create_table(
        "enquiry_episode",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("case_reference", sa.String(32), nullable=False, unique=True),
        sa.Column("partnership", sa.String(100), nullable=False, index=True),
        sa.Column("brag", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("opened_by", sa.String(128), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("sharing_basis", sa.String(40), nullable=False),
        sa.Column("completed_at", TZ, nullable=True),
        sa.Column("closed_early", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("closed_early_reason", sa.Text, nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.Column("outcome_rationale", sa.Text, nullable=True),
        sa.Column("early_help_destination", sa.String(30), nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", TZ, nullable=True),
    )
    op.create_table(
        "information_request",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("episode_id", sa.String(36), sa.ForeignKey("enquiry_episode.id"),
                  nullable=False, index=True),
        sa.Column("case_reference", sa.String(32), nullable=False, index=True),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("agency", sa.String(30), nullable=False, index=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("subjects", sa.Text, nullable=False),
        sa.Column("brag", sa.String(8), nullable=False),
        sa.Column("sharing_basis", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("deadline", TZ, nullable=False, index=True),
        sa.Column("chase_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_chased_at", TZ, nullable=True),
        sa.Column("responded_at", TZ, nullable=True),
        sa.Column("responded_by", sa.String(128), nullable=True),
        sa.Column("late", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("known", sa.Boolean, nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("risk_indicators", sa.Text, nullable=False, server_default="[]"),
        sa.Column("relevant_dates", sa.Text, nullable=False, server_default="[]"),
        sa.Column("attachments", sa.Text, nullable=False, server_default="[]"),
        sa.Column("decline_reason_code", sa.String(40), nullable=True),
        sa.Column("decline_explanation", sa.Text, nullable=True),
    )


def downgrade() -> None:
    for table in ("information_request", "enquiry_episode", "enquiry_case_access",
                  "enquiry_case"):
        op.drop_table(table)
