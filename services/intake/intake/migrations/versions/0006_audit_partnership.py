"""The audit log says whose record was read: its partnership (GET /v1/audit).

Revision ID: 0006
Revises: 0005_contact_time
"""

from mashcore.migrations import add_audit_partnership, drop_audit_partnership

revision = "0006"
down_revision = "0005_contact_time"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_audit_partnership()


def downgrade() -> None:
    drop_audit_partnership()
