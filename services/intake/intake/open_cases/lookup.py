"""Does this child have an open case, or a social worker involved recently? The lookup.

Significant information about a child whose case is open goes to the allocated social worker
or team and is recorded as a case note, not as a new referral (DOMAIN.md §3; [002 §1]).
Medway's 12-week rule adds: if a social worker was involved in the past 12 weeks, that worker
is asked to re-engage ([003]). Whether the second rule applies, and over how long, is policy:
the caller passes the window (``recent_involvement``), ``None`` turning the rule off, which is
the default for every partnership that has not adopted it.

The child is matched against the index with intake's spelling-tolerant matcher
(``intake.matching``), at its conservative threshold: a false match would send one child's
information to another child's social worker (DOMAIN.md §10). These functions read the
session they are given and nothing else: no clock of their own, no writes, no audit (the
caller audits the read in its own unit of work), no logging of the child's details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Literal

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from intake.checks.matching import PROBABLE_MATCH_THRESHOLD, ChildKey, MatchResult, match_score
from intake.domain import local_today
from intake.open_cases.models import CLOSED, OPEN, OpenCase

__all__ = [
    "MEDWAY_RECENT_INVOLVEMENT",
    "OpenCaseMatch",
    "Reason",
    "find_open_case",
    "indexed_case",
    "matching_cases",
]

Reason = Literal["open_case", "recent_involvement_12_weeks"]
"""The ``reason`` of ``mash.intake.contact.forwarded-to-allocated-worker.v1``."""

MEDWAY_RECENT_INVOLVEMENT = timedelta(weeks=12)
"""Medway's window ([003]), for partnerships that adopt the rule. Not a default."""


@dataclass(frozen=True, slots=True)
class OpenCaseMatch:
    """The case a child's information should go to, and why. Identifiers only."""

    case_reference: str
    allocated_worker_id: str | None
    """The allocated social worker (open case; ``None`` if the case is unallocated), or the
    recently involved one (always set for ``recent_involvement_12_weeks``)."""
    reason: Reason
    last_involvement_ended_on: date | None
    """Set for ``recent_involvement_12_weeks``; ``None`` for an open case."""
    allocated_manager_id: str | None = None
    team: str | None = None
    score: float = 0.0
    """How strongly the child matched the indexed child (``intake.matching``)."""


def indexed_case(session: Session, partnership: str, case_reference: str) -> OpenCase | None:
    """The case ``partnership``'s index holds under that reference (never another's)."""
    return session.get(OpenCase, {"partnership": partnership, "case_reference": case_reference})


def _transposed(value: date) -> date | None:
    """The date with day and month swapped (03/07 ↔ 07/03), if that is a date."""
    try:
        return value.replace(month=value.day, day=value.month)
    except ValueError:
        return None


def _key(case: OpenCase) -> ChildKey:
    return ChildKey(first_name=case.first_name, last_name=case.last_name,
                    date_of_birth=case.date_of_birth, postcode=case.postcode)


_Closed = Literal["none", "all", "since"]
"""Which closed cases a lookup takes: none, all, or those whose involvement ended since."""


@cache
def _matching_query(by_birth: bool, closed: _Closed) -> SelectOfScalar[OpenCase]:
    """The lookup's statement of this shape, its values bound at execution (``partnership``,
    always in the WHERE clause; ``dates``, ``since``). Built once per shape (issue 17:
    building it and working out its cache key again for every referral was most of the
    lookup's CPU when no case matched)."""
    query = select(OpenCase).where(OpenCase.partnership == bindparam("partnership"))
    if by_birth:
        query = query.where(or_(col(OpenCase.date_of_birth).is_(None),
                                col(OpenCase.date_of_birth).in_(
                                    bindparam("dates", expanding=True))))
    if closed == "none":
        query = query.where(col(OpenCase.status) == OPEN)
    elif closed == "since":
        query = query.where(or_(
            col(OpenCase.status) == OPEN,
            col(OpenCase.last_involvement_ended_on) >= bindparam("since"),
        ))
    return query


def matching_cases(
    session: Session,
    child: ChildKey,
    *,
    partnership: str,
    include_closed: bool = True,
    closed_involvement_since: date | None = None,
    threshold: float = PROBABLE_MATCH_THRESHOLD,
) -> list[tuple[OpenCase, MatchResult]]:
    """Every indexed case probably about ``child``, best match first, then latest updated.

    Only ``partnership``'s cases, always: one partnership's index never answers for
    another's. Closed cases are included unless ``include_closed`` is false; with
    ``closed_involvement_since``, only those whose last involvement ended on or after that
    date. A child whose identity is unknown matches nothing.

    The database narrows the candidates by date of birth exactly as the matcher would veto
    them (a different date of birth that is not a day/month transposition never matches), so
    no probable match is lost; the matcher decides the rest.
    """
    if not child.is_identified:
        return []
    born = child.date_of_birth
    dates = [] if born is None else sorted({born, _transposed(born) or born})
    closed: _Closed = ("none" if not include_closed
                       else "since" if closed_involvement_since is not None else "all")
    query = _matching_query(bool(dates), closed)
    params = {"partnership": partnership, "dates": dates, "since": closed_involvement_since}
    found = []
    for case in session.exec(query, params=params):
        result = match_score(child, _key(case))
        if result.score >= threshold:
            found.append((case, result))
    found.sort(key=lambda item: (item[1].score, item[0].updated_at), reverse=True)
    return found


def find_open_case(
    session: Session,
    child: ChildKey,
    *,
    now: datetime,
    recent_involvement: timedelta | None,
    partnership: str,
) -> OpenCaseMatch | None:
    """The open case about ``child`` or, under the 12-week rule, the recently involved worker.

    1. An open case that probably matches the child wins (best match first, then the most
       recently updated): ``reason="open_case"``.
    2. Otherwise, when ``recent_involvement`` is given, a closed case whose last involvement
       ended within it (inclusive, in whole days, counted on England's calendar date of
       ``now``) and which names the worker who was involved: the most recent involvement
       first, then the best match: ``reason="recent_involvement_12_weeks"`` (the contract's
       name for the rule, whatever window the partnership chose).
    3. Otherwise ``None``: the contact is handled as new.

    ``recent_involvement`` is policy. ``None`` (the default for every partnership unless it
    adopts Medway's rule, [003]) turns rule 2 off; Medway's is ``MEDWAY_RECENT_INVOLVEMENT``
    (12 weeks). Only ``partnership``'s cases are searched.
    """
    if recent_involvement is not None and recent_involvement <= timedelta(0):
        raise ValueError("the recent-involvement window must be positive (or None for off)")
    today = local_today(now)
    since = today - recent_involvement if recent_involvement is not None else None
    matches = matching_cases(session, child, partnership=partnership,
                             include_closed=since is not None, closed_involvement_since=since)
    for case, result in matches:
        if case.status == OPEN:
            return OpenCaseMatch(
                case_reference=case.case_reference,
                allocated_worker_id=case.allocated_worker_id,
                reason="open_case",
                last_involvement_ended_on=None,
                allocated_manager_id=case.allocated_manager_id,
                team=case.team,
                score=result.score,
            )
    if since is None:
        return None
    recent = [
        (case, result) for case, result in matches
        if case.status == CLOSED
        and case.allocated_worker_id is not None
        and case.last_involvement_ended_on is not None
        and since <= case.last_involvement_ended_on
    ]
    if not recent:
        return None
    case, result = max(
        recent, key=lambda item: (item[0].last_involvement_ended_on or date.min, item[1].score)
    )
    return OpenCaseMatch(
        case_reference=case.case_reference,
        allocated_worker_id=case.allocated_worker_id,
        reason="recent_involvement_12_weeks",
        last_involvement_ended_on=case.last_involvement_ended_on,
        allocated_manager_id=case.allocated_manager_id,
        team=case.team,
        score=result.score,
    )
