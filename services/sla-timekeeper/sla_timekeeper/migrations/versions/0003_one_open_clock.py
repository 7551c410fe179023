"""At most one open (running or paused) instance of a clock per case and instance: two
replicas racing on one case cannot leave two live clocks for the timer to breach.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('running', 'paused')")


def upgrade() -> None:
    op.create_index("ux_sla_clock_one_open", "sla_clock",
                    ["case_reference", "clock", "instance"], unique=True,
                    postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    op.drop_index("ux_sla_clock_one_open", table_name="sla_clock")
