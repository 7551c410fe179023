"""Opening an episode and following the triage decisions that change it (DOMAIN.md §2, §6).

On a threshold decision routed to MASH enquiries, one information request goes to each
partner agency the partnership's policy names (police, health, education and probation by
default), each due when the enquiries are due (red 4 h, amber 24 h by default; policy).
A re-rating moves every outstanding request's deadline; consent decisions change the basis
on which later answers are shared.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from mash_enquiries import events
from mash_enquiries.models import CaseRecord, Episode, InformationRequest
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.service import ServiceContext
from mashcore.topics import ENQUIRIES_EPISODES

OPEN, DECIDED = "open", "decided"
PENDING, ANSWERED, DECLINED = "pending", "answered", "declined"


class CaseUnknown(LookupError):
    """A decision about a case whose contact never reached MASH enquiries."""


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


def open_episode(ctx: ServiceContext, uow: UnitOfWork, decision: Event) -> Episode | None:
    """An episode with one request per agency, for a decision routed to MASH enquiries."""
    data = decision.data
    if data["route"] != "mash_enquiries":
        return None
    case = uow.session.get(CaseRecord, decision.subject)
    if case is None:
        raise CaseUnknown(decision.subject)
    if uow.session.exec(select(Episode).where(
            Episode.case_reference == decision.subject)).first() is not None:
        return None  # one episode per case
    pack = ctx.policy.for_partnership(decision.partnership)
    now = ctx.clock.now()
    opened_at = parse_time(str(data["decided_at"]))
    due = (parse_time(str(data["enquiries_due_at"])) if data.get("enquiries_due_at")
           else pack.due(pack.brag.of(data["brag"]).enquiries_within, opened_at))  # type: ignore[arg-type]
    basis = ("without_consent_safeguarding" if data["proceeding_without_consent"]
             else "consent")
    episode = Episode(id=str(uuid.uuid4()), case_reference=decision.subject,
                      partnership=decision.partnership, brag=str(data["brag"]), status=OPEN,
                      opened_at=opened_at, opened_by=str(data["decided_by"]["user_id"]),
                      due_at=due, sharing_basis=basis)
    uow.session.add(episode)
    uow.session.flush()
    subjects = subjects_of(case)
    for agency in pack.enquiries.agencies:
        request = InformationRequest(
            id=str(uuid.uuid4()), episode_id=episode.id, case_reference=episode.case_reference,
            partnership=episode.partnership, agency=agency,
            question=pack.enquiries.question_for(agency), subjects=json.dumps(subjects),
            brag=episode.brag, sharing_basis=basis, status=PENDING, requested_at=now,
            deadline=due)
        uow.session.add(request)
        emit(ctx, uow, decision, case_reference=episode.case_reference,
             partnership=episode.partnership, event_type=events.INFORMATION_REQUESTED,
             data=events.information_requested(request, requested_by=episode.opened_by), at=now)
    return episode


def follow_re_rating(ctx: ServiceContext, uow: UnitOfWork, event: Event) -> None:
    """A re-rated case: the episode's BRAG and every outstanding request's deadline follow."""
    episode = uow.session.exec(select(Episode).where(
        Episode.case_reference == event.subject, Episode.status == OPEN)).first()
    if episode is None:
        return
    due_at = event.data.get("enquiries_due_at")
    episode.brag = str(event.data["new_brag"])
    if due_at:
        episode.due_at = parse_time(str(due_at))
    uow.session.add(episode)
    for request in uow.session.exec(select(InformationRequest).where(
            InformationRequest.episode_id == episode.id,
            col(InformationRequest.status) == PENDING)):
        request.brag = episode.brag
        request.deadline = episode.due_at
        request.chase_count = 0  # a new deadline gets its own reminder
        uow.session.add(request)


def follow_consent(uow: UnitOfWork, event: Event, basis: str) -> None:
    """The basis for sharing information from now on (DOMAIN.md §5)."""
    episode = uow.session.exec(select(Episode).where(
        Episode.case_reference == event.subject)).first()
    if episode is None:
        return
    episode.sharing_basis = basis
    uow.session.add(episode)
    for request in uow.session.exec(select(InformationRequest).where(
            InformationRequest.episode_id == episode.id,
            col(InformationRequest.status) == PENDING)):
        request.sharing_basis = basis
        uow.session.add(request)
