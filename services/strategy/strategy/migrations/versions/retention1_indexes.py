"""The runtime's retention indexes (a branch of its own: mashcore.migrations).

Revision ID: retention1
Revises: 0001
"""

from mashcore.migrations import create_retention_indexes, drop_retention_indexes

revision = "retention1"
down_revision = "0001"
branch_labels = ("mashcore",)
depends_on = None


def upgrade() -> None:
    create_retention_indexes()


def downgrade() -> None:
    drop_retention_indexes()
