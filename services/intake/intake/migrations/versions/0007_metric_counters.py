"""Counters kept as rows are written (mashcore.counters): /metrics reads them instead of
grouping the whole inbox. Started from the inbox rows already there.

Revision ID: 0007_metric_counters
Revises: 0006
"""

from alembic import op

from mashcore.counters import backfill_events_handled, create_counter_table

revision = "0007_metric_counters"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_counter_table()
    backfill_events_handled()


def downgrade() -> None:
    op.drop_table("metric_counter")
