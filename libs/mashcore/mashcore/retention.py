"""Retention: the runtime's own rows are deleted once they are no longer needed.

Sent outbox rows hold whole events (children's names among them), inbox rows and
idempotency keys only guard against duplicates. After ``MASH_RETENTION_DAYS`` (30 by
default: longer than Kafka keeps any topic to replay from, 7 days, and than any client
retries a request) each is deleted, in batches, by a timer every service runs. Unsent
outbox rows are never deleted, however old.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, Metric
from sqlalchemy import bindparam, text
from sqlalchemy.engine import Engine

from mashcore.db import UtcDateTime, is_postgres
from mashcore.metrics import MetricsSource

if TYPE_CHECKING:
    from mashcore.service import ServiceContext, TimerSpec

BATCH_SIZE = 1000
INTERVAL_S = 600.0

# Each table: its key columns and the condition that makes a row old enough to delete.
_PURGES: dict[str, tuple[str, str]] = {
    "outbox": ("id", "published_at IS NOT NULL AND published_at < :cutoff"),
    "inbox": ("consumer, event_id", "processed_at < :cutoff"),
    "idempotency_key": ("client, key", "created_at < :cutoff"),
}


class PurgeCounts:
    """Rows deleted by this process, per service and table (a Prometheus counter)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, service: str, table: str, rows: int) -> None:
        """Count deleted rows."""
        with self._lock:
            self._counts[(service, table)] = self._counts.get((service, table), 0) + rows

    def of(self, service: str) -> dict[str, int]:
        """Rows deleted so far for one service, by table (every table, zeros included)."""
        with self._lock:
            return {table: self._counts.get((service, table), 0) for table in _PURGES}


PURGED = PurgeCounts()


def purge_batch(engine: Engine, cutoff: datetime, *, batch_size: int = BATCH_SIZE,
                service: str = "", counts: PurgeCounts = PURGED) -> int:
    """Delete at most ``batch_size`` rows older than ``cutoff`` from each table; return how
    many in all."""
    deleted = 0
    for table, (key, old) in _PURGES.items():
        # Batched by key so a backlog never becomes one long transaction; on PostgreSQL
        # SKIP LOCKED lets several replicas purge side by side without waiting on each other.
        lock = " FOR UPDATE SKIP LOCKED" if is_postgres(engine) else ""
        statement = text(
            f"DELETE FROM {table} WHERE ({key}) IN "  # noqa: S608 - names are constants
            f"(SELECT {key} FROM {table} WHERE {old} LIMIT :batch{lock})"
        ).bindparams(bindparam("cutoff", type_=UtcDateTime()))  # stored as the columns are
        with engine.begin() as connection:
            rows = connection.execute(statement, {"cutoff": cutoff, "batch": batch_size})
        if rows.rowcount:
            counts.add(service, table, rows.rowcount)
            deleted += rows.rowcount
    return deleted


def purge_expired(context: ServiceContext) -> int:
    """The timer's work: one batch per table of rows older than the retention period."""
    cutoff = context.clock.now() - timedelta(days=context.settings.retention_days)
    return purge_batch(context.engine, cutoff, service=context.name)


def retention_timer() -> TimerSpec:
    """The purge, as the timer the runtime adds to every service."""
    from mashcore.service import TimerSpec

    return TimerSpec(name="retention", run=purge_expired, interval=INTERVAL_S)


def retention_metrics(service: str, counts: PurgeCounts = PURGED) -> MetricsSource:
    """``mash_retention_purged_rows_total``: rows the purge deleted, per table."""
    def collect() -> Iterable[Metric]:
        purged = CounterMetricFamily("mash_retention_purged_rows",
                                     "Rows deleted by the retention purge in this process",
                                     labels=["service", "table"])
        for table, rows in counts.of(service).items():
            purged.add_metric([service, table], float(rows))
        return [purged]
    return collect
