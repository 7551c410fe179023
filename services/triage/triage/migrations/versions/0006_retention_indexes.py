"""The runtime's retention indexes (mashcore.migrations).

Revision ID: retention1
Revises: 0005_metric_counters
"""

from mashcore.migrations import create_retention_indexes, drop_retention_indexes

revision = "retention1"
down_revision = "0005_metric_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_retention_indexes()


def downgrade() -> None:
    drop_retention_indexes()
