"""Initial rating, consent gate, threshold decision, rating history and lock-down lists.

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
    with op.batch_alter_table("triage_case") as batch:
        batch.add_column(sa.Column("correlation_id", sa.String(64), nullable=False,
                                   server_default=""))
        batch.add_column(sa.Column("referrer_agency", sa.String(40), nullable=True))
        batch.add_column(sa.Column("referral", sa.Text, nullable=True))
        batch.add_column(sa.Column("restricted", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("initial_brag", sa.String(8), nullable=True))
        batch.add_column(sa.Column("safeguarding_concerns", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("consent_to_referral", sa.String(20), nullable=False,
                                   server_default="unknown"))
        batch.add_column(sa.Column("indicators_ticked", sa.Text, nullable=False,
                                   server_default="[]"))
        batch.add_column(sa.Column("gate_outcome", sa.String(30), nullable=True))
        batch.add_column(sa.Column("gate_rationale", sa.Text, nullable=True))
        batch.add_column(sa.Column("gate_proposed_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("brag", sa.String(8), nullable=True))
        batch.add_column(sa.Column("level_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("level_name", sa.String(100), nullable=True))
        batch.add_column(sa.Column("route", sa.String(30), nullable=True))
        batch.add_column(sa.Column("rationale", sa.Text, nullable=True))
        batch.add_column(sa.Column("decided_at", TZ, nullable=True))
        batch.add_column(sa.Column("decided_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("policy_version", sa.String(40), nullable=True))
        batch.add_column(sa.Column("suggested_level_code", sa.String(32), nullable=True))
        batch.add_column(sa.Column("suggested_brag", sa.String(8), nullable=True))
        batch.add_column(sa.Column("proceeding_without_consent", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("without_consent_basis", sa.String(80), nullable=True))
        batch.add_column(sa.Column("consent_revisit_due_at", TZ, nullable=True))
        batch.add_column(sa.Column("current_override_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("enquiries_started_at", TZ, nullable=True))
        batch.add_column(sa.Column("enquiries_due_at", TZ, nullable=True))
        batch.add_column(sa.Column("closed_at", TZ, nullable=True))
        batch.create_index("ix_triage_case_status_due", ["status", "threshold_decision_due_at"])
    op.create_table(
        "triage_rating_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_reference", sa.String(32), sa.ForeignKey("triage_case.case_reference"),
                  nullable=False, index=True),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("brag", sa.String(8), nullable=True),
        sa.Column("level_code", sa.String(32), nullable=True),
        sa.Column("by_user", sa.String(128), nullable=False),
        sa.Column("by_role", sa.String(40), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("suggested_level_code", sa.String(32), nullable=True),
        sa.Column("suggested_brag", sa.String(8), nullable=True),
    )
    op.create_table(
        "triage_case_access",
        sa.Column("case_reference", sa.String(32), sa.ForeignKey("triage_case.case_reference"),
                  primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("triage_case_access")
    op.drop_table("triage_rating_history")
    with op.batch_alter_table("triage_case") as batch:
        batch.drop_index("ix_triage_case_status_due")
        for column in ("closed_at", "enquiries_due_at", "enquiries_started_at",
                       "current_override_id", "consent_revisit_due_at",
                       "without_consent_basis", "proceeding_without_consent",
                       "suggested_brag", "suggested_level_code", "policy_version",
                       "decided_by", "decided_at", "rationale", "route", "level_name",
                       "level_code", "brag", "gate_proposed_by", "gate_rationale",
                       "gate_outcome", "indicators_ticked", "consent_to_referral",
                       "safeguarding_concerns", "initial_brag", "restricted", "referral",
                       "referrer_agency", "correlation_id"):
            batch.drop_column(column)
