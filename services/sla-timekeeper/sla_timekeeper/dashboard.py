"""The ops dashboard's numbers: timescale health at a glance, case references only.

Computed from the timekeeper's own records: its clocks (open ones by stage and BRAG, the
most urgent, breach rates) and the SLA events in its outbox (today's breaches, warnings and
met deadlines, the latest events). Nothing here is personal data (DOMAIN.md §1 Ops).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from mashcore.outbox import OutboxRecord
from mashcore.service import ServiceContext
from sla_timekeeper.models import ClockRow

LONDON = ZoneInfo("Europe/London")
LABELS = {
    "threshold_decision": "Threshold decision", "referrer_acknowledged": "Referrer acknowledged",
    "mash_enquiries": "MASH enquiries", "partner_information_request": "Partner request",
    "strategy_minutes": "Strategy minutes", "icpc": "ICPC", "first_core_group": "First core group",
    "core_group_minutes": "Core group minutes", "first_review_conference": "First review",
    "later_review_conference": "Later review", "referrer_outcome": "Referrer outcome",
    "escalation_stage": "Escalation stage",
}
BRAGS = ("red", "amber", "green", "blue")
SLA_PREFIX = "mash.sla.clock."


def _rate(breached: int, total: int) -> float | None:
    return round(breached / total, 3) if total else None


def summary(ctx: ServiceContext, partnerships: list[str] | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, now."""
    now = ctx.clock.now()
    today = datetime.combine(now.astimezone(LONDON).date(), time(0), LONDON)
    window = now - timedelta(days=30)
    with ctx.unit_of_work() as uow:
        query = select(ClockRow).where(
            (col(ClockRow.status).in_(["running", "paused"]))
            | (col(ClockRow.started_at) >= window))
        if partnerships is not None:
            query = query.where(col(ClockRow.partnership).in_(partnerships))
        clocks = uow.session.exec(query).all()
        events = uow.session.exec(
            select(OutboxRecord).where(col(OutboxRecord.event_type).startswith(SLA_PREFIX),
                                       col(OutboxRecord.created_at) >= today)
            .order_by(col(OutboxRecord.id).desc()).limit(5000)).all()
    open_clocks = [c for c in clocks if c.status in ("running", "paused")]
    stages: dict[str, dict[str, Any]] = {}
    for clock in open_clocks:
        stage = stages.setdefault(clock.clock, {
            "clock": clock.clock, "label": LABELS.get(clock.clock, clock.clock), "total": 0,
            "by_brag": dict.fromkeys((*BRAGS, "unrated"), 0), "breached": 0})
        stage["total"] += 1
        stage["by_brag"][clock.brag if clock.brag in BRAGS else "unrated"] += 1
        stage["breached"] += int(clock.breached)
    urgent = sorted(open_clocks, key=lambda c: c.due_at)[:10]
    kinds: Counter[str] = Counter()
    on_time = 0
    recent: list[dict[str, Any]] = []
    for record in events:
        data = json.loads(record.payload)
        if partnerships is not None and data.get("partnership") not in partnerships:
            continue
        kind = record.event_type.removeprefix(SLA_PREFIX).removesuffix(".v1")
        kinds[kind] += 1
        on_time += int(kind == "met" and bool(data.get("on_time")))
        if len(recent) < 20:
            recent.append({"kind": kind, "clock": data["clock"],
                           "label": LABELS.get(data["clock"], data["clock"]),
                           "case_reference": data["case_reference"],
                           "at": record.created_at.isoformat()})
    ended = [c for c in clocks if c.status == "met"]
    by_agency: dict[str, list[ClockRow]] = defaultdict(list)
    by_partnership: dict[str, list[ClockRow]] = defaultdict(list)
    for clock in clocks:
        by_partnership[clock.partnership].append(clock)
        if clock.clock == "partner_information_request" and clock.agency:
            by_agency[clock.agency].append(clock)
    return {
        "generated_at": now.isoformat(),
        "open_by_stage": sorted(stages.values(), key=lambda s: -int(s["total"])),
        "most_urgent": [{
            "case_reference": c.case_reference, "clock": c.clock,
            "label": LABELS.get(c.clock, c.clock), "brag": c.brag,
            "partnership": c.partnership, "agency": c.agency,
            "due_at": c.due_at.isoformat(),
            "seconds_left": int((c.due_at - now).total_seconds()), "breached": c.breached,
        } for c in urgent],
        "today": {"breaches": kinds["breached"], "warnings": kinds["warned"],
                  "met": kinds["met"], "met_on_time": on_time},
        "met_rate": _rate(sum(1 for c in ended if not c.breached), len(ended)),
        "breach_rate_by_agency": [
            {"agency": agency, "clocks": len(rows), "breached": sum(r.breached for r in rows),
             "rate": _rate(sum(r.breached for r in rows), len(rows))}
            for agency, rows in sorted(by_agency.items())],
        "breach_rate_by_partnership": [
            {"partnership": p, "clocks": len(rows), "breached": sum(r.breached for r in rows),
             "rate": _rate(sum(r.breached for r in rows), len(rows))}
            for p, rows in sorted(by_partnership.items())],
        "recent": recent,
    }


def sla_metrics(ctx: ServiceContext) -> list[Any]:
    """Prometheus: open clocks (and those breached) by clock, BRAG and partnership, and SLA
    events published by kind and clock. Codes only."""
    def collect() -> list[Any]:
        with ctx.unit_of_work() as uow:
            rows = uow.session.execute(
                sa_select(col(ClockRow.clock), col(ClockRow.brag), col(ClockRow.partnership),
                          col(ClockRow.breached), func.count())
                .where(col(ClockRow.status).in_(["running", "paused"]))
                .group_by(col(ClockRow.clock), col(ClockRow.brag), col(ClockRow.partnership),
                          col(ClockRow.breached))).all()
            published = uow.session.exec(
                select(OutboxRecord.event_type, func.count())
                .where(col(OutboxRecord.event_type).startswith(SLA_PREFIX))
                .group_by(col(OutboxRecord.event_type))).all()
        open_clocks = GaugeMetricFamily("mash_sla_open_clocks", "Open statutory clocks",
                                        labels=["clock", "brag", "partnership", "breached"])
        for clock, brag, partnership, breached, count in rows:
            open_clocks.add_metric([clock, brag or "unrated", partnership,
                                    "true" if breached else "false"], float(count))
        events = GaugeMetricFamily("mash_sla_events", "SLA events published, by kind",
                                   labels=["kind"])
        for event_type, count in published:
            events.add_metric([event_type.removeprefix(SLA_PREFIX).removesuffix(".v1")],
                              float(count))
        return [open_clocks, events]

    return [collect]
