"""Agency performance: how quickly and how often late each agency answers, per partnership.

Counts and durations only: no case references, no people, no answers. Requests are counted
in the window by when they were made.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from mash_enquiries.episodes import PENDING
from mash_enquiries.models import InformationRequest
from mashcore.service import ServiceContext


def _minutes(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 1)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 1)


def agency_performance(ctx: ServiceContext, *, partnerships: list[str] | None,
                       since: datetime, until: datetime) -> dict[str, Any]:
    """Per partnership and agency: requests, answers, declines, outstanding, overdue, late
    rate, and response times (median and 90th percentile, in minutes)."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        query = select(InformationRequest).where(
            col(InformationRequest.requested_at) >= since,
            col(InformationRequest.requested_at) < until)
        if partnerships is not None:
            query = query.where(col(InformationRequest.partnership).in_(partnerships))
        rows = uow.session.exec(query).all()
    groups: dict[tuple[str, str], list[InformationRequest]] = defaultdict(list)
    for row in rows:
        groups[(row.partnership, row.agency)].append(row)
    report = []
    for (partnership, agency), requests in sorted(groups.items()):
        responded = [r for r in requests if r.responded_at is not None]
        minutes = sorted((r.responded_at - r.requested_at).total_seconds() / 60
                         for r in responded if r.responded_at is not None)
        late = sum(1 for r in responded if r.late)
        report.append({
            "partnership": partnership, "agency": agency, "requests": len(requests),
            "answered": sum(1 for r in requests if r.status == "answered"),
            "declined": sum(1 for r in requests if r.status == "declined"),
            "outstanding": sum(1 for r in requests if r.status == PENDING),
            "withdrawn": sum(1 for r in requests if r.status == "withdrawn"),
            "overdue_outstanding": sum(1 for r in requests
                                       if r.status == PENDING and now > r.deadline),
            "late_responses": late,
            "late_rate": round(late / len(responded), 3) if responded else None,
            "median_response_minutes": _minutes(minutes, 0.5),
            "p90_response_minutes": _minutes(minutes, 0.9),
        })
    return {"since": since.isoformat(), "until": until.isoformat(), "agencies": report}
