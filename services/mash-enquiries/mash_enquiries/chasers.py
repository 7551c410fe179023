"""Reminders before the deadline (DOMAIN.md §8): a durable timer, not a check on page load.

Every run chases each pending request whose chase point (``chase_at`` of the way from the
request to its deadline, policy) has passed and whose deadline has not: one reminder per
deadline. Rows are claimed with SKIP LOCKED and the version check, so with several
replicas each request is chased once; the event and the mark commit together.
"""

from __future__ import annotations

from sqlmodel import col, select

from mash_enquiries import events
from mash_enquiries.episodes import PENDING, emit
from mash_enquiries.models import InformationRequest
from mashcore.service import ServiceContext

BATCH = 200


def chase_due_requests(ctx: ServiceContext) -> int:
    """Send the reminders that are due now; returns how many were sent."""
    now = ctx.clock.now()
    sent = 0
    with ctx.unit_of_work() as uow:
        candidates = uow.session.exec(
            select(InformationRequest)
            .where(col(InformationRequest.status) == PENDING,
                   col(InformationRequest.chase_count) == 0,
                   col(InformationRequest.deadline) > now)
            .order_by(col(InformationRequest.deadline))
            .limit(BATCH)
            .with_for_update(skip_locked=True)).all()
        for request in candidates:
            fraction = ctx.policy.for_partnership(request.partnership).enquiries.chase_at
            chase_at = request.requested_at + (request.deadline - request.requested_at) * fraction
            if now < chase_at:
                continue
            request.chase_count += 1
            request.last_chased_at = now
            uow.session.add(request)
            emit(ctx, uow, None, case_reference=request.case_reference,
                 partnership=request.partnership, event_type=events.REQUEST_CHASED,
                 data=events.request_chased(request, now), at=now)
            sent += 1
        uow.commit()
    return sent
