"""Prometheus: notifications by kind, channel and status (pending, sent, dead, not_required),
and the oldest still waiting, so ops see a relay that has stopped accepting. Codes only."""

from __future__ import annotations

from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col

from mashcore.service import ServiceContext
from notifications.models import PENDING, Notification


def notification_metrics(ctx: ServiceContext) -> list[Any]:
    def collect() -> list[Any]:
        with ctx.unit_of_work() as uow:
            rows = uow.session.execute(
                sa_select(col(Notification.kind), col(Notification.channel),
                          col(Notification.status), func.count())
                .group_by(col(Notification.kind), col(Notification.channel),
                          col(Notification.status))).all()
            oldest = uow.session.execute(
                sa_select(func.min(col(Notification.created_at)))
                .where(col(Notification.status) == PENDING)).scalar()
        counts = GaugeMetricFamily("mash_notifications", "Notifications by kind and status",
                                   labels=["kind", "channel", "status"])
        for kind, channel, status, count in rows:
            counts.add_metric([kind, channel, status], float(count))
        age = GaugeMetricFamily("mash_notifications_oldest_pending_seconds",
                                "How long the oldest undelivered notification has waited")
        age.add_metric([], max((ctx.clock.now() - oldest).total_seconds(), 0.0)
                       if oldest else 0.0)
        return [counts, age]

    return [collect]
