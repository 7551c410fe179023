"""The runtime's retention indexes (mashcore.migrations).

Revision ID: 0006_retention
Revises: 0005_metric_counters
"""

from mashcore.migrations import create_retention_indexes, drop_retention_indexes

revision = "0006_retention"
down_revision = "0005_metric_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_retention_indexes()


def downgrade() -> None:
    drop_retention_indexes()
