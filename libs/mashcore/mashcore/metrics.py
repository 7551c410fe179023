"""``/metrics`` in Prometheus' text format, on every service.

Read at scrape time from the service's own database, so every replica reports the same
truth and nothing is lost on a restart: the outbox backlog (events not yet on the bus, and
the age of the oldest), events handled per consumer and type, and whatever a service adds
(the SLA timekeeper's clocks). No labels carry personal data: codes and names only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from mashcore import counters
from mashcore.outbox import OutboxRecord

MetricsSource = Callable[[], Iterable[Metric]]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Collector(Collector):
    def __init__(self, sources: list[MetricsSource]) -> None:
        self._sources = sources

    def collect(self) -> Iterator[Metric]:
        for source in self._sources:
            yield from source()


def messaging_metrics(service: str, unit_of_work: Callable[..., object],
                      now: Callable[[], datetime]) -> MetricsSource:
    """The outbox backlog (an indexed count of the unpublished rows) and the events handled
    (counters kept as the inbox is written: mashcore.counters), for one service."""
    def collect() -> Iterable[Metric]:
        with unit_of_work() as uow:  # type: ignore[attr-defined]
            pending, oldest = uow.session.exec(
                select(func.count(), func.min(OutboxRecord.created_at))
                .where(col(OutboxRecord.published_at).is_(None))).one()
            handled = counters.read(uow.session, counters.EVENTS_HANDLED)
        backlog = GaugeMetricFamily("mash_outbox_unpublished",
                                  "Events committed but not yet published", labels=["service"])
        backlog.add_metric([service], float(pending))
        age = GaugeMetricFamily("mash_outbox_oldest_unpublished_seconds",
                              "Age of the oldest unpublished event (0 when none)",
                              labels=["service"])
        age.add_metric([service], (now() - oldest).total_seconds() if oldest else 0.0)
        processed = GaugeMetricFamily("mash_events_handled",
                                    "Events handled (exactly once) per consumer and type",
                                    labels=["service", "consumer", "event_type"])
        for (consumer, event_type), count in handled:
            processed.add_metric([service, consumer, event_type], float(count))
        return [backlog, age, processed]
    return collect


def render(sources: list[MetricsSource]) -> bytes:
    """The exposition text for these sources."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(sources))
    return generate_latest(registry)
