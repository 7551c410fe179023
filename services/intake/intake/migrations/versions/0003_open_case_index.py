"""The index of open cases and recent involvement, and answered checks.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_case",
        sa.Column("case_reference", sa.String(64), primary_key=True),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("date_of_birth", sa.Date, nullable=True),
        sa.Column("postcode", sa.String(10), nullable=True),
        sa.Column("allocated_worker_id", sa.String(128), nullable=True),
        sa.Column("allocated_manager_id", sa.String(128), nullable=True),
        sa.Column("team", sa.String(100), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("opened_on", sa.Date, nullable=True),
        sa.Column("closed_on", sa.Date, nullable=True),
        sa.Column("last_involvement_ended_on", sa.Date, nullable=True),
        sa.Column("siblings", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_open_case_status"),
    )
    op.create_index("ix_open_case_partnership", "open_case", ["partnership"])
    op.create_index("ix_open_case_status_dob", "open_case", ["status", "date_of_birth"])
    op.create_index("ix_open_case_last_involvement", "open_case",
                    ["last_involvement_ended_on"])
    op.create_table(
        "answered_check",
        sa.Column("check_id", sa.String(36), primary_key=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_by", sa.String(128), nullable=False),
        sa.Column("answered_by_role", sa.String(50), nullable=False),
        sa.Column("partnership", sa.String(100), nullable=False),
        sa.Column("requester_body", sa.String(40), nullable=False),
        sa.Column("identity_validated_by", sa.String(40), nullable=False),
    )
    op.create_index("ix_answered_check_answered_at", "answered_check", ["answered_at"])


def downgrade() -> None:
    op.drop_table("answered_check")
    op.drop_table("open_case")
