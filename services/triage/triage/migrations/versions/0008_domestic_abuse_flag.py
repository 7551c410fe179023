"""Hub staff's answer to a suggested domestic-abuse flag (issue 20).

Revision ID: 0008_domestic_abuse_flag
Revises: 0007_parked_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_domestic_abuse_flag"
down_revision = "0007_parked_events"
branch_labels = None
depends_on = None

COLUMNS = ("domestic_abuse_flag", "domestic_abuse_flag_reason", "domestic_abuse_flag_by",
           "domestic_abuse_flag_at")


def upgrade() -> None:
    with op.batch_alter_table("triage_case") as batch:
        batch.add_column(sa.Column("domestic_abuse_flag", sa.String(20), nullable=True))
        batch.add_column(sa.Column("domestic_abuse_flag_reason", sa.String(40), nullable=True))
        batch.add_column(sa.Column("domestic_abuse_flag_by", sa.String(128), nullable=True))
        batch.add_column(sa.Column("domestic_abuse_flag_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_case") as batch:
        for column in reversed(COLUMNS):
            batch.drop_column(column)
