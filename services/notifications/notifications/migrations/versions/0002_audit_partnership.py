"""The audit log says whose record was read: its partnership (GET /v1/audit).

Revision ID: 0002
Revises: 0001
"""

from mashcore.migrations import add_audit_partnership, drop_audit_partnership

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_partnership()


def downgrade() -> None:
    drop_audit_partnership()
