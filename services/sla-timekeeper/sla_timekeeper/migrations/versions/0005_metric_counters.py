"""Costs that do not grow with history: counters kept as rows are written (mashcore.counters:
events handled, SLA events published by kind), started from the rows already there; and the
ended clocks indexed by when they started, so the dashboard's 30-day rates read 30 days,
and the open clocks in an index of their own.

Revision ID: 0005_metric_counters
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from mashcore.counters import backfill, backfill_events_handled, create_counter_table

# As they are today (a later change to the model needs its own migration).
OPEN_ONLY = sa.text("status IN ('running', 'paused')")
OPEN_INDEX = ("ix_sla_clock_open", "clock", "partnership", "brag", "breached", "agency")
ENDED_INDEX = ("ix_sla_clock_status_started", "status", "started_at", "clock", "partnership",
               "agency", "breached")

revision = "0005_metric_counters"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_counter_table()
    backfill_events_handled()
    backfill("sla_events", "SELECT kind, count(*) FROM sla_transition GROUP BY kind")
    op.create_index(ENDED_INDEX[0], "sla_clock", list(ENDED_INDEX[1:]))
    op.create_index(OPEN_INDEX[0], "sla_clock", list(OPEN_INDEX[1:]),
                    postgresql_where=OPEN_ONLY, sqlite_where=OPEN_ONLY)


def downgrade() -> None:
    op.drop_index("ix_sla_clock_open", "sla_clock")
    op.drop_index("ix_sla_clock_status_started", "sla_clock")
    op.drop_table("metric_counter")
