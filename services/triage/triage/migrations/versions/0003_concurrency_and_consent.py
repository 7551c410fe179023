"""Optimistic concurrency on cases, the reason for proceeding without consent, and the
indicators a team manager ticks.

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
    with op.batch_alter_table("triage_case") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("without_consent_reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("indicators_ticked_by_manager", sa.Text, nullable=False,
                                   server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("triage_case") as batch:
        for column in ("indicators_ticked_by_manager", "without_consent_reason", "version"):
            batch.drop_column(column)
