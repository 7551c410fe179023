"""Lock-down lists, linked contacts and repeat links.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("restricted", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("open_case_reference", sa.String(64), nullable=True))
        batch.add_column(sa.Column("open_case_reason", sa.String(40), nullable=True))
    op.create_table(
        "contact_access",
        sa.Column("contact_id", sa.String(36), sa.ForeignKey("contact.id"), primary_key=True),
        sa.Column("user_id", sa.String(200), primary_key=True),
    )
    op.create_table(
        "contact_link",
        sa.Column("contact_id", sa.String(36), sa.ForeignKey("contact.id"), primary_key=True),
        sa.Column("linked_contact_id", sa.String(36), sa.ForeignKey("contact.id"),
                  primary_key=True),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("contact_link")
    op.drop_table("contact_access")
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("open_case_reason")
        batch.drop_column("open_case_reference")
        batch.drop_column("restricted")
