"""Conference, review and core group cancellations: when and why (a reason code), for the
calendar cancellation and the views (issue 16); and a transfer-in conference's transfer, so
its held event meets that transfer's clock only.

Revision ID: 0013_meeting_cancellations
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_meeting_cancellations"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLES = ("strategy_conference", "strategy_review_conference", "strategy_core_group")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("cancelled_at", sa.DateTime(timezone=True),
                                       nullable=True))
        op.add_column(table, sa.Column("cancelled_reason", sa.String(40), nullable=True))
    op.add_column("strategy_conference", sa.Column("transfer_id", sa.String(36), nullable=True))


def downgrade() -> None:
    op.drop_column("strategy_conference", "transfer_id")
    for table in TABLES:
        for column in ("cancelled_reason", "cancelled_at"):
            op.drop_column(table, column)
