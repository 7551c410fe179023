"""The team manager's side (DOMAIN.md §7): every answer side by side, what is outstanding
and overdue, then the MASH outcome with its rationale; closing early when the risk is clear.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from mash_enquiries import access, events
from mash_enquiries.episodes import DECIDED, OPEN, PENDING, emit, end_requests
from mash_enquiries.models import CaseRecord, Episode, InformationRequest
from mash_enquiries.navigators import answer_view
from mashcore.audit import AuditAction, audit_listed, refusals_audited
from mashcore.auth import Principal, recordable_user_id
from mashcore.db import UnitOfWork
from mashcore.problems import ProblemHTTPException, invalid_fields
from mashcore.service import ServiceContext

RESOURCE = "enquiry_episode"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _requests(uow: UnitOfWork, episode: Episode) -> list[InformationRequest]:
    return list(uow.session.exec(select(InformationRequest)
                                 .where(InformationRequest.episode_id == episode.id)
                                 .order_by(col(InformationRequest.agency))))


def counts(requests: list[InformationRequest]) -> dict[str, int]:
    by_status = Counter(r.status for r in requests)
    return {"total": len(requests), "provided": by_status["answered"],
            "declined": by_status["declined"],
            "outstanding": by_status[PENDING] + by_status["withdrawn"]}


def summary(episode: Episode, requests: list[InformationRequest],
            now: datetime) -> dict[str, Any]:
    """A queue entry: no names, no answers."""
    tally = counts(requests)
    return {
        "episode_id": episode.id, "case_reference": episode.case_reference,
        "partnership": episode.partnership, "brag": episode.brag, "status": episode.status,
        "opened_at": _iso(episode.opened_at), "due_at": _iso(episode.due_at),
        "overdue": episode.completed_at is None and now > episode.due_at,
        "requests": tally,
        "overdue_requests": sum(1 for r in requests if r.status == PENDING
                                and now > r.deadline),
        "ready_for_outcome": episode.status == OPEN and (
            tally["outstanding"] == 0 or episode.completed_at is not None),
    }


def list_episodes(ctx: ServiceContext, principal: Principal, status: str,
                  limit: int) -> list[dict[str, Any]]:
    """The partnership's episodes, the earliest due first."""
    with ctx.unit_of_work() as uow:
        query = (select(Episode)
                 .where(Episode.partnership == access.partnership_of(ctx, principal),
                        access.visible_sql(principal, Episode.case_reference))
                 .order_by(col(Episode.due_at)).limit(limit))
        if status != "all":
            query = query.where(Episode.status == status)
        now = ctx.clock.now()
        episodes = uow.session.exec(query).all()
        listed = [summary(e, _requests(uow, e), now) for e in episodes]
        audit_listed(uow.session, principal=principal, resource="episode_list", at=now,
                     listed=[(e.id, e.case_reference, e.partnership)
                             for e in episodes])
        uow.commit()
        return listed


def _load(ctx: ServiceContext, uow: UnitOfWork, principal: Principal, episode_id: str,
          action: AuditAction) -> Episode:
    return access.load(ctx, uow, principal, Episode, episode_id, what="episode",
                       resource=RESOURCE, action=action)


def view(ctx: ServiceContext, uow: UnitOfWork, episode: Episode) -> dict[str, Any]:
    """The whole episode: the people searched for and every agency's answer side by side."""
    requests = _requests(uow, episode)
    now = ctx.clock.now()
    case = uow.session.get(CaseRecord, episode.case_reference)
    return {
        **summary(episode, requests, now),
        "sharing_basis": episode.sharing_basis,
        "subjects": json.loads(requests[0].subjects) if requests else [],
        "answers": [{"request_id": r.id, "agency": r.agency, "status": r.status,
                     "deadline": _iso(r.deadline),
                     "overdue": r.status == PENDING and now > r.deadline,
                     "chased": r.chase_count > 0, "answer": answer_view(r)}
                    for r in requests],
        "completed_at": _iso(episode.completed_at),
        "closed_early": episode.closed_early,
        "closed_early_reason": episode.closed_early_reason,
        "outcome": ({"outcome": episode.outcome, "rationale": episode.outcome_rationale,
                     "early_help_destination": episode.early_help_destination,
                     "decided_by": episode.decided_by, "decided_at": _iso(episode.decided_at)}
                    if episode.outcome else None),
        "restricted": bool(case and case.restricted),
    }


def read_episode(ctx: ServiceContext, principal: Principal, episode_id: str) -> dict[str, Any]:
    """One episode, audited."""
    with ctx.unit_of_work() as uow:
        episode = _load(ctx, uow, principal, episode_id, AuditAction.READ)
        return view(ctx, uow, episode)


def _complete(ctx: ServiceContext, uow: UnitOfWork, episode: Episode, principal: Principal,
              user_id: str, now: datetime, requests: list[InformationRequest]) -> None:
    episode.completed_at = now
    emit(ctx, uow, None, case_reference=episode.case_reference,
         partnership=episode.partnership, event_type=events.ENQUIRIES_COMPLETED,
         data=events.enquiries_completed(episode, by={"user_id": user_id,
                                                     "role": str(principal.role)},
                                         counts=counts(requests)), at=now)


def close_early(ctx: ServiceContext, principal: Principal, episode_id: str, *,
                reason: str) -> dict[str, Any]:
    """Stop the enquiries before every agency has answered, because the risk is clear."""
    user_id = recordable_user_id(principal)
    with (refusals_audited(ctx, principal, resource=RESOURCE, resource_id=episode_id),
          ctx.unit_of_work() as uow):
        episode = _load(ctx, uow, principal, episode_id, AuditAction.WRITE)
        requests = _requests(uow, episode)
        if episode.completed_at is not None:
            raise ProblemHTTPException(409, "Already completed",
                                       f"Enquiries {episode_id} are complete.")
        if counts(requests)["outstanding"] == 0:
            raise ProblemHTTPException(409, "Nothing outstanding",
                                       "Every agency has answered: record the outcome.")
        now = ctx.clock.now()
        episode.closed_early, episode.closed_early_reason = True, reason
        _complete(ctx, uow, episode, principal, user_id, now, requests)
        end_requests(uow, episode)
        uow.session.add(episode)
        uow.commit()
        return view(ctx, uow, episode)


def decide_outcome(ctx: ServiceContext, principal: Principal, episode_id: str, *,
                   outcome: str, rationale: str,
                   early_help_destination: str | None) -> dict[str, Any]:
    """The MASH outcome with the manager's rationale (DOMAIN.md §7)."""
    user_id = recordable_user_id(principal)
    if (outcome == "early_help") != (early_help_destination is not None):
        raise invalid_fields("Outcome refused", [(
            "early_help_destination",
            "say where early help is (family_hub, early_help_hub, other_professional)"
            if outcome == "early_help" else "only for the early_help outcome")])
    with (refusals_audited(ctx, principal, resource=RESOURCE, resource_id=episode_id),
          ctx.unit_of_work() as uow):
        episode = _load(ctx, uow, principal, episode_id, AuditAction.WRITE)
        if episode.status != OPEN:
            raise ProblemHTTPException(409, "Already ended",
                                       f"Episode {episode_id} is {episode.status}.")
        requests = _requests(uow, episode)
        outstanding = counts(requests)["outstanding"]
        now = ctx.clock.now()
        if episode.completed_at is None:
            if outstanding:
                agencies = ", ".join(r.agency for r in requests if r.status == PENDING)
                raise ProblemHTTPException(
                    409, "Enquiries outstanding",
                    f"Waiting for {agencies}: wait for their answers, or close the "
                    "enquiries early with a reason (POST .../close-early).")
            _complete(ctx, uow, episode, principal, user_id, now, requests)
        episode.status = DECIDED
        episode.outcome, episode.outcome_rationale = outcome, rationale
        episode.early_help_destination = early_help_destination
        episode.decided_by, episode.decided_at = user_id, now
        uow.session.add(episode)
        emit(ctx, uow, None, case_reference=episode.case_reference,
             partnership=episode.partnership, event_type=events.OUTCOME_DECIDED,
             data=events.outcome_decided(episode, by={"user_id": user_id,
                                                      "role": str(principal.role)}), at=now)
        uow.commit()
        return view(ctx, uow, episode)
