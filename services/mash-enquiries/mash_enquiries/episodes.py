"""Opening an episode and following the triage decisions that change it (DOMAIN.md §2, §6).

A threshold decision routed to MASH enquiries, or a re-rating whose new route is MASH
enquiries, opens an episode: one information request to each partner agency the
partnership's policy names (police, health, education and probation by default), each due
when the enquiries are due (red 4 h, amber 24 h by default; policy). A re-rating moves every
outstanding request's deadline (announcing each move, so the SLA clocks follow), or, when the
case leaves MASH enquiries for another route, ends the episode and withdraws its outstanding
requests. Consent decisions set the basis on which information is shared.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from mash_enquiries import events
from mash_enquiries.models import CaseRecord, Episode, InformationRequest
from mashcore.consumer import NotYetKnown
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.ids import new_id
from mashcore.policy import PolicyPack
from mashcore.service import ServiceContext
from mashcore.topics import ENQUIRIES_EPISODES

OPEN, DECIDED, WITHDRAWN = "open", "decided", "withdrawn"
PENDING, ANSWERED, DECLINED = "pending", "answered", "declined"
WITHOUT_CONSENT = "without_consent_safeguarding"


def subjects_of(case: CaseRecord) -> list[dict[str, Any]]:
    """The people each agency searches for: the children, then the family and household.
    Never the referrer: intake does not send who referred (DOMAIN.md §1, §10)."""
    people = [{"relationship": "child", "first_name": child.get("first_name"),
               "last_name": child.get("last_name"),
               "date_of_birth": child.get("date_of_birth"), "postcode": case.postcode}
              for child in json.loads(case.children)]
    people += [{"relationship": person["relationship"], "first_name": person["first_name"],
                "last_name": person["last_name"], "date_of_birth": person["date_of_birth"],
                "postcode": None}
               for person in json.loads(case.family)]
    return people


def emit(ctx: ServiceContext, uow: UnitOfWork, cause: Event | None, *, case_reference: str,
         partnership: str, event_type: str, data: dict[str, Any], at: datetime) -> None:
    """Stage one of this service's events (following its cause when there is one)."""
    if cause is not None:
        event = cause.follow_up(type=event_type, source=ctx.source, data=data, recordedtime=at)
    else:
        event = Event(type=event_type, source=ctx.source, subject=case_reference, time=at,
                      recordedtime=at, partnership=partnership, data=data)
    ctx.emit(uow, event, ENQUIRIES_EPISODES)


def chase_due(pack: PolicyPack, start: datetime, deadline: datetime) -> datetime | None:
    """When to remind: ``enquiries.chase_at`` of the way from ``start`` to the deadline."""
    if deadline <= start:
        return None
    return start + (deadline - start) * pack.enquiries.chase_at


def _case(uow: UnitOfWork, event: Event) -> CaseRecord:
    case = uow.session.get(CaseRecord, event.subject)
    if case is None:
        # The contact is on another topic and may not have been read yet: wait for it.
        raise NotYetKnown(f"contact:{event.subject}")
    return case


def _episode(uow: UnitOfWork, case_reference: str) -> Episode | None:
    return uow.session.exec(select(Episode).where(
        Episode.case_reference == case_reference)).first()


def open_episode(ctx: ServiceContext, uow: UnitOfWork, cause: Event, *, brag: str,
                 opened_by: str, opened_at: datetime, due: datetime | None) -> None:
    """An episode with one request per agency, unless the case has one already."""
    case = _case(uow, cause)
    if _episode(uow, cause.subject) is not None:
        return
    pack = ctx.policy.for_partnership(case.partnership)
    within = pack.brag.of(brag).enquiries_within  # type: ignore[arg-type]
    if due is None:
        assert within is not None, f"{brag} has no MASH enquiries timescale"
        due = pack.due(within, opened_at)
    now = ctx.clock.now()
    episode = Episode(id=new_id(), case_reference=case.case_reference,
                      partnership=case.partnership, brag=brag, status=OPEN,
                      opened_at=opened_at, opened_by=opened_by, due_at=due,
                      sharing_basis=case.sharing_basis)
    uow.session.add(episode)
    uow.session.flush()
    subjects = json.dumps(subjects_of(case))
    address = json.loads(case.address) if case.address else None
    for agency in pack.enquiries.agencies:
        request = InformationRequest(
            id=new_id(), episode_id=episode.id, case_reference=episode.case_reference,
            partnership=episode.partnership, agency=agency,
            question=pack.enquiries.question_for(agency), subjects=subjects,
            brag=episode.brag, sharing_basis=episode.sharing_basis, status=PENDING,
            requested_at=now, deadline=due, chase_due_at=chase_due(pack, now, due))
        uow.session.add(request)
        emit(ctx, uow, cause, case_reference=episode.case_reference,
             partnership=episode.partnership, event_type=events.INFORMATION_REQUESTED,
             data=events.information_requested(request, requested_by=episode.opened_by,
                                               address=address), at=now)


def on_decision(ctx: ServiceContext, uow: UnitOfWork, decision: Event) -> None:
    """Record the basis for sharing; open the episode when the route is MASH enquiries."""
    data = decision.data
    basis = WITHOUT_CONSENT if data["proceeding_without_consent"] else "consent"
    if data["route"] != "mash_enquiries":
        case = uow.session.get(CaseRecord, decision.subject)
        if case is not None:
            case.sharing_basis = basis
            uow.session.add(case)
        return
    case = _case(uow, decision)
    case.sharing_basis = basis
    uow.session.add(case)
    due = data.get("enquiries_due_at")
    open_episode(ctx, uow, decision, brag=str(data["brag"]),
                 opened_by=str(data["decided_by"]["user_id"]),
                 opened_at=parse_time(str(data["decided_at"])),
                 due=parse_time(str(due)) if due else None)


def end_requests(uow: UnitOfWork, episode: Episode) -> None:
    """The enquiries are over: outstanding requests are withdrawn (no longer in any queue,
    chased or counted as overdue)."""
    for request in uow.session.exec(select(InformationRequest).where(
            InformationRequest.episode_id == episode.id,
            col(InformationRequest.status) == PENDING)):
        request.status = "withdrawn"
        request.chase_due_at = None
        uow.session.add(request)


def on_re_rating(ctx: ServiceContext, uow: UnitOfWork, event: Event) -> None:
    """A re-rated case: deadlines follow; a new route opens or ends the episode."""
    data = event.data
    new_route = data.get("new_route")
    due_at = parse_time(str(data["enquiries_due_at"])) if data.get("enquiries_due_at") else None
    re_rated_at = parse_time(str(data["re_rated_at"]))
    if new_route == "mash_enquiries":
        open_episode(ctx, uow, event, brag=str(data["new_brag"]),
                     opened_by=str(data["re_rated_by"]["user_id"]), opened_at=re_rated_at,
                     due=due_at)
        return
    episode = _episode(uow, event.subject)
    if episode is None or episode.status != OPEN or episode.completed_at is not None:
        return
    now = ctx.clock.now()
    if new_route is not None:  # the case has left MASH enquiries
        episode.status = WITHDRAWN
        episode.completed_at = now
        episode.closed_early = True
        episode.closed_early_reason = (f"Re-rated {data['new_brag']} with the new route "
                                       f"{new_route}: MASH enquiries are no longer needed.")
        tally = _counts(uow, episode)
        end_requests(uow, episode)
        uow.session.add(episode)
        emit(ctx, uow, event, case_reference=episode.case_reference,
             partnership=episode.partnership, event_type=events.ENQUIRIES_COMPLETED,
             data=events.enquiries_completed(episode, by={
                 "user_id": str(data["re_rated_by"]["user_id"]),
                 "role": str(data["re_rated_by"]["role"])}, counts=tally), at=now)
        return
    episode.brag = str(data["new_brag"])
    if due_at is not None:
        episode.due_at = due_at
    uow.session.add(episode)
    pack = ctx.policy.for_partnership(episode.partnership)
    for request in uow.session.exec(select(InformationRequest).where(
            InformationRequest.episode_id == episode.id,
            col(InformationRequest.status) == PENDING)):
        previous = request.deadline
        request.brag = episode.brag
        request.deadline = episode.due_at
        uow.session.add(request)
        if previous == episode.due_at:
            continue
        # A new deadline gets its own reminder, and is announced: the request's clock
        # in the timekeeper follows it (issue 13).
        request.chase_due_at = chase_due(pack, now, episode.due_at)
        emit(ctx, uow, event, case_reference=episode.case_reference,
             partnership=episode.partnership, event_type=events.REQUEST_DEADLINE_CHANGED,
             data=events.request_deadline_changed(request, previous=previous, at=re_rated_at,
                                                  reason_code="re_rated"), at=now)


def _counts(uow: UnitOfWork, episode: Episode) -> dict[str, int]:
    statuses = [r.status for r in uow.session.exec(select(InformationRequest).where(
        InformationRequest.episode_id == episode.id))]
    return {"total": len(statuses), "provided": statuses.count(ANSWERED),
            "declined": statuses.count(DECLINED), "outstanding": statuses.count(PENDING)}


def on_consent(uow: UnitOfWork, event: Event, basis: str) -> None:
    """The basis for sharing information from now on (DOMAIN.md §5)."""
    case = uow.session.get(CaseRecord, event.subject)
    if case is not None:
        case.sharing_basis = basis
        uow.session.add(case)
    episode = _episode(uow, event.subject)
    if episode is None:
        return
    episode.sharing_basis = basis
    uow.session.add(episode)
    for request in uow.session.exec(select(InformationRequest).where(
            InformationRequest.episode_id == episode.id,
            col(InformationRequest.status) == PENDING)):
        request.sharing_basis = basis
        uow.session.add(request)
