"""Conference, review and core group arrangements: format, end, location, dial-in, for the
calendar invite (issue 15).

Revision ID: 0012
Revises: 0011_parked_events
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011_parked_events"
branch_labels = None
depends_on = None

TABLES = ("strategy_conference", "strategy_review_conference", "strategy_core_group")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("format", sa.String(20), nullable=True))
        op.add_column(table, sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("location", sa.String(500), nullable=True))
        op.add_column(table, sa.Column("dial_in", sa.String(500), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        for column in ("dial_in", "location", "ends_at", "format"):
            op.drop_column(table, column)
