"""Reminders before the deadline (DOMAIN.md §8): a durable timer, not a check on page load.

Each pending request has a ``chase_due_at``: ``enquiries.chase_at`` of the way from the
request (or from the re-rating that moved its deadline) to its deadline, half-way by
default (policy). A run sends every reminder that is due and whose deadline has not passed,
once per deadline. Each is claimed with one conditional UPDATE (still pending, still due),
so two replicas, or a navigator answering at that moment, never produce a second reminder
or a conflict; the claim and the event commit together.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from mash_enquiries import events
from mash_enquiries.episodes import PENDING, emit
from mash_enquiries.models import InformationRequest
from mashcore.service import ServiceContext

BATCH = 500


def chase_due_requests(ctx: ServiceContext) -> int:
    """Send the reminders that are due now; returns how many were sent."""
    now = ctx.clock.now()
    sent = 0
    with ctx.unit_of_work() as uow:
        due = uow.session.exec(
            select(InformationRequest.id)
            .where(col(InformationRequest.status) == PENDING,
                   col(InformationRequest.chase_due_at) <= now,
                   col(InformationRequest.deadline) > now)
            .order_by(col(InformationRequest.chase_due_at))
            .limit(BATCH)).all()
    for request_id in due:
        with ctx.unit_of_work() as uow:
            claimed = uow.session.execute(
                update(InformationRequest)
                .where(col(InformationRequest.id) == request_id,
                       col(InformationRequest.status) == PENDING,
                       col(InformationRequest.chase_due_at) <= now)
                .values(chase_count=InformationRequest.chase_count + 1,
                        last_chased_at=now, chase_due_at=None))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # answered, or chased by another replica, meanwhile
            request = uow.session.get(InformationRequest, request_id)  # as updated
            assert request is not None
            emit(ctx, uow, None, case_reference=request.case_reference,
                 partnership=request.partnership, event_type=events.REQUEST_CHASED,
                 data=events.request_chased(request, now), at=now)
            uow.commit()
            sent += 1
    return sent
