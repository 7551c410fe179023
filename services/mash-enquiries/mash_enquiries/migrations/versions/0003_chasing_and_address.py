"""When each reminder is due, the address and the sharing basis per case.

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
    with op.batch_alter_table("information_request") as batch:
        batch.add_column(sa.Column("chase_due_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_information_request_chase_due_at", ["chase_due_at"])
    with op.batch_alter_table("enquiry_case") as batch:
        batch.add_column(sa.Column("address", sa.Text, nullable=True))
        batch.add_column(sa.Column("sharing_basis", sa.String(40), nullable=False,
                                   server_default="consent"))


def downgrade() -> None:
    with op.batch_alter_table("enquiry_case") as batch:
        batch.drop_column("sharing_basis")
        batch.drop_column("address")
    with op.batch_alter_table("information_request") as batch:
        batch.drop_index("ix_information_request_chase_due_at")
        batch.drop_column("chase_due_at")
