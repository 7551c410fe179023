"""The ops dashboard's numbers: timescale health at a glance, case references only.

Computed in SQL from the timekeeper's own records: its clocks (open ones by stage and BRAG,
the most urgent, breach rates) and the transitions it published (today's breaches, warnings
and met deadlines, the latest events). Nothing here is personal data (DOMAIN.md §1 Ops).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from mashcore import counters
from mashcore.service import ServiceContext
from sla_timekeeper import undelivered
from sla_timekeeper.clocks import CANCELLED, MET
from sla_timekeeper.models import OPEN_ONLY, SLA_EVENTS, ClockRow, TransitionRow

LONDON = ZoneInfo("Europe/London")
LABELS = {
    "threshold_decision": "Threshold decision", "referrer_acknowledged": "Referrer acknowledged",
    "mash_enquiries": "MASH enquiries", "partner_information_request": "Partner request",
    "strategy_minutes": "Strategy minutes", "icpc": "ICPC", "first_core_group": "First core group",
    "core_group_minutes": "Core group minutes", "first_review_conference": "First review",
    "later_review_conference": "Later review", "referrer_outcome": "Referrer outcome",
    "escalation_stage": "Escalation stage", "transfer_in_conference": "Transfer-in conference",
}
BRAGS = ("red", "amber", "green", "blue")



def _rate(breached: int, total: int) -> float | None:
    return round(breached / total, 3) if total else None


def _count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _summed(parts: Iterable[Sequence[Any]]) -> list[tuple[str, int, int]]:
    """(key, clocks, breached) rows of several reads, added up per key."""
    totals: dict[str, list[int]] = {}
    for rows in parts:
        for key, count, breached in rows:
            total = totals.setdefault(key, [0, 0])
            total[0] += int(count)
            total[1] += int(breached)
    return [(key, count, breached) for key, (count, breached) in totals.items()]


def summary(ctx: ServiceContext, partnerships: list[str] | None = None) -> dict[str, Any]:
    """Everything the dashboard shows, now: counted in SQL, in the caller's partnerships.

    "Today" is London's day, by when each event was published. Breach rates and the met
    rate cover the open clocks and those started in the last 30 days.
    """
    now = ctx.clock.now()
    today = datetime.combine(now.astimezone(LONDON).date(), time(0), LONDON)
    window = now - timedelta(days=30)

    def mine(query: Any, column: Any) -> Any:
        return query if partnerships is None else query.where(col(column).in_(partnerships))

    # The open clocks (a partial index) and, for the rates, the ended ones started in the
    # window (an index by status and start): never every clock that ever ended.
    is_open = OPEN_ONLY
    ended_recently = (col(ClockRow.status).in_((MET, CANCELLED)),
                      col(ClockRow.started_at) >= window)
    with ctx.unit_of_work() as uow:
        run = uow.session.execute
        by_stage = run(mine(
            sa_select(col(ClockRow.clock), col(ClockRow.brag), func.count(),
                      _count_if(col(ClockRow.breached)))
            .where(is_open).group_by(col(ClockRow.clock), col(ClockRow.brag)),
            ClockRow.partnership)).all()
        urgent = uow.session.exec(mine(
            select(ClockRow).where(is_open).order_by(col(ClockRow.due_at)).limit(10),
            ClockRow.partnership)).all()
        today_counts = run(mine(
            sa_select(col(TransitionRow.kind), func.count(),
                      _count_if(col(TransitionRow.on_time).is_(True)))
            .where(col(TransitionRow.recorded_at) >= today)
            .group_by(col(TransitionRow.kind)), TransitionRow.partnership)).all()
        # id + 0: sort today's transitions, found by their index, rather than walk every
        # transition back by id (all of history on a quiet day or for a small partnership).
        recent = uow.session.exec(mine(
            select(TransitionRow).where(col(TransitionRow.recorded_at) >= today)
            .order_by((col(TransitionRow.id) + 0).desc()).limit(20),
            TransitionRow.partnership)).all()
        met_total, met_unbreached = run(mine(
            sa_select(func.count(), _count_if(col(ClockRow.breached).is_(False)))
            .where(col(ClockRow.status) == MET, col(ClockRow.started_at) >= window),
            ClockRow.partnership)).one()

        def rates(key: Any, *where: Any) -> list[tuple[str, int, int]]:
            # Ended ones grouped by status first, the order of their index (SQLite would
            # rather walk an index on the key through every clock).
            return _summed(run(mine(
                sa_select(col(key), func.count(), _count_if(col(ClockRow.breached)))
                .where(*which, *where).group_by(*grouping, col(key)),
                ClockRow.partnership)).all()
                for which, grouping in (((is_open,), ()),
                                        (ended_recently, (col(ClockRow.status),))))

        by_partnership = rates(ClockRow.partnership)
        by_agency = rates(ClockRow.agency, col(ClockRow.clock) == "partner_information_request",
                          col(ClockRow.agency).is_not(None))
        # Notices never delivered: counts; case references for a partnership's managers.
        notices = undelivered.read(uow.session, partnerships, now)
    stages: dict[str, dict[str, Any]] = {}
    for clock, brag, count, breached in by_stage:
        stage = stages.setdefault(clock, {
            "clock": clock, "label": LABELS.get(clock, clock), "total": 0,
            "by_brag": dict.fromkeys((*BRAGS, "unrated"), 0), "breached": 0})
        stage["total"] += count
        stage["by_brag"][brag if brag in BRAGS else "unrated"] += count
        stage["breached"] += int(breached)
    kinds = {kind: (int(count), int(on_time)) for kind, count, on_time in today_counts}
    return {
        "generated_at": now.isoformat(),
        "open_by_stage": sorted(stages.values(), key=lambda s: (-int(s["total"]), s["clock"])),
        "most_urgent": [{
            "case_reference": c.case_reference, "clock": c.clock,
            "label": LABELS.get(c.clock, c.clock), "brag": c.brag,
            "partnership": c.partnership, "agency": c.agency,
            "due_at": c.due_at.isoformat(),
            "seconds_left": int((c.due_at - now).total_seconds()), "breached": c.breached,
        } for c in urgent],
        "today": {"breaches": kinds.get("breached", (0, 0))[0],
                  "warnings": kinds.get("warned", (0, 0))[0],
                  "met": kinds.get("met", (0, 0))[0],
                  "met_on_time": kinds.get("met", (0, 0))[1]},
        "met_rate": _rate(int(met_unbreached), int(met_total)),
        "breach_rate_by_agency": [
            {"agency": agency, "clocks": count, "breached": int(breached),
             "rate": _rate(int(breached), count)}
            for agency, count, breached in sorted(by_agency)],
        "breach_rate_by_partnership": [
            {"partnership": p, "clocks": count, "breached": int(breached),
             "rate": _rate(int(breached), count)}
            for p, count, breached in sorted(by_partnership)],
        "recent": [{"kind": t.kind, "clock": t.clock, "label": LABELS.get(t.clock, t.clock),
                    "case_reference": t.case_reference, "at": t.recorded_at.isoformat()}
                   for t in recent],
        "undelivered_notices": notices,
    }


def sla_metrics(ctx: ServiceContext) -> list[Any]:
    """Prometheus: open clocks (and those breached) by clock, BRAG and partnership, and SLA
    events published by kind and clock. Codes only."""
    def collect() -> list[Any]:
        with ctx.unit_of_work() as uow:
            rows = uow.session.execute(
                sa_select(col(ClockRow.clock), col(ClockRow.brag), col(ClockRow.partnership),
                          col(ClockRow.breached), func.count())
                .where(OPEN_ONLY)
                .group_by(col(ClockRow.clock), col(ClockRow.brag), col(ClockRow.partnership),
                          col(ClockRow.breached))).all()
            published = counters.read(uow.session, SLA_EVENTS)  # kept as they are recorded
        open_clocks = GaugeMetricFamily("mash_sla_open_clocks", "Open statutory clocks",
                                        labels=["clock", "brag", "partnership", "breached"])
        for clock, brag, partnership, breached, count in rows:
            open_clocks.add_metric([clock, brag or "unrated", partnership,
                                    "true" if breached else "false"], float(count))
        events = GaugeMetricFamily("mash_sla_events", "SLA events published, by kind",
                                   labels=["kind"])
        for (kind,), count in published:
            events.add_metric([kind], float(count))
        return [open_clocks, events]

    return [collect]
