"""Intake's routing rules that need the database: repeats, young parents, lock-down.

They run inside the submission's unit of work, so a contact, its links and its events are
committed together (DOMAIN.md §3, §10).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from typing import Any

from intake import commands, domain, events, lifecycle
from intake.checks import quality, repeat_index
from intake.checks.matching import ChildKey, find_stored_repeats
from intake.contacts.models import Contact, ContactAccess, ContactLink
from intake.open_cases.lookup import find_open_case
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.lockdown import replace_named_users
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

HUB_ROLES = (Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)
CASE_REFERENCE = re.compile(r"^MASH-[0-9]{4}-[A-Z0-9]{8}$")


def child_keys(submission: dict[str, Any]) -> list[ChildKey]:
    """The matching keys of a submission's children (the home postcode for each)."""
    postcode = (submission.get("address") or {}).get("postcode")
    return [
        ChildKey(first_name=c.get("first_name"), last_name=c.get("last_name"),
                 date_of_birth=date.fromisoformat(c["date_of_birth"])
                 if c.get("date_of_birth") else None,
                 postcode=postcode, identity_unknown=bool(c.get("identity_unknown")))
        for c in submission["children"]
    ]


def link_repeats(uow: UnitOfWork, contact: Contact, submission: dict[str, Any],
                 now: datetime, window: timedelta) -> list[str]:
    """Link this contact to recent contacts about the same child, from any agency.

    Nothing is dropped or merged: a repeat is a link a person looks at (DOMAIN.md §3).
    """
    keys = child_keys(submission)
    repeat_index.record_keys(uow.session, contact.id, contact.received_at, keys)
    recent = repeat_index.candidate_children(uow.session, keys, since=now - window,
                                             exclude_id=contact.id)
    linked: dict[str, float] = {}
    for key in keys:
        for other_id, result in find_stored_repeats(key, recent, window, now):
            linked[other_id] = max(result.score, linked.get(other_id, 0.0))
    for other_id, score in linked.items():
        uow.session.add(ContactLink(contact_id=contact.id, linked_contact_id=other_id,
                                    reason="repeat", score=score, created_at=now))
    return sorted(linked)


def young_parents(submission: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """Parents or carers under 18: each is referred in their own right (DOMAIN.md §3)."""
    return [
        parent for parent in submission.get("parents_carers") or []
        if parent.get("date_of_birth")
        and quality.age_on(date.fromisoformat(parent["date_of_birth"]), today) < 18
    ]


def linked_subject(parent: dict[str, Any]) -> dict[str, Any]:
    """The young parent as the subject of their own referral. A parent known only by
    relationship and date of birth is a subject whose identity is unknown: said, not left
    blank, so the referral is as valid as one a partner could have sent."""
    subject = domain.child_for_event(parent)
    if not (subject["first_name"] and subject["last_name"]):
        subject["identity_unknown"] = True
    return subject


def stored_referral(submission_json: str) -> str:
    """A stored submission, readable again: linked referrals recorded before
    `linked_subject` left an unnamed young parent's missing names unexplained."""
    submission: dict[str, Any] = json.loads(submission_json)
    for subject in submission.get("children") or []:
        if not subject.get("unborn") and not (subject.get("first_name")
                                              and subject.get("last_name")):
            subject["identity_unknown"] = True
    return json.dumps(submission)


def create_linked_referrals(ctx: ServiceContext, uow: UnitOfWork, contact: Contact,
                            submission: dict[str, Any], principal: Principal,
                            now: datetime) -> list[Contact]:
    """A referral of its own for each parent under 18, linked to the original."""
    created = []
    for parent in young_parents(submission, domain.local_today(now)):
        subject = linked_subject(parent)
        linked = Contact(
            id=domain.new_contact_id(), case_reference=domain.new_case_reference(now),
            kind="referral", partnership=contact.partnership,
            referrer_agency=contact.referrer_agency, referrer_subject=contact.referrer_subject,
            status=lifecycle.RECEIVED, received_at=now, restricted=contact.restricted,
            submission=json.dumps({
                "kind": "referral", "referrer": submission["referrer"],
                "children": [{k: v for k, v in subject.items() if v is not None}],
                "concern": {"summary": "A parent or carer under 18 named in referral "
                                       f"{contact.case_reference}; see that referral."},
            }),
        )
        uow.session.add(linked)
        uow.session.flush()  # the link's foreign key needs the row
        repeat_index.record_keys(uow.session, linked.id, linked.received_at,
                                 child_keys(json.loads(linked.submission)))
        uow.session.add(ContactLink(contact_id=linked.id, linked_contact_id=contact.id,
                                    reason="parent_carer_under_18", created_at=now))
        for event_type, data in (
            (events.CONTACT_RECEIVED, domain.contact_received_data(
                contact_id=linked.id, case_reference=linked.case_reference, kind="referral",
                partnership=linked.partnership, referrer_agency=principal.agency,
                referrer_role=submission["referrer"].get("role") or "referrer",
                children=[subject], concern_summary="A parent or carer under 18 named in "
                f"referral {contact.case_reference}.", received_at=now)),
            (events.LINKED_REFERRAL_CREATED, {
                "case_reference": linked.case_reference,
                "linked_to_case_reference": contact.case_reference,
                "contact_id": linked.id, "link_reason": "parent_carer_under_18",
                "subject": subject,
                # Normally assessed by a different social worker (DOMAIN.md §3).
                "different_social_worker_required": True,
                "created_at": now.isoformat(), "created_by": principal.subject}),
        ):
            ctx.emit(uow, Event(type=event_type, source=ctx.source,
                                subject=linked.case_reference, time=now, recordedtime=now,
                                partnership=linked.partnership, data=data), INTAKE_CONTACTS)
        created.append(linked)
    return created


def lock_down(ctx: ServiceContext, uow: UnitOfWork, contact: Contact, principal: Principal,
              *, allowed_user_ids: list[str], reason_code: str,
              head_of_service: dict[str, Any] | None, now: datetime) -> None:
    """Restrict a contact to named users and announce it (DOMAIN.md §1 staff-linked)."""
    contact.restricted = True
    uow.session.add(contact)
    replace_named_users(uow.session, ContactAccess, "contact_id", contact.id, allowed_user_ids)
    data: dict[str, Any] = {
        "case_reference": contact.case_reference, "locked_at": now.isoformat(),
        "locked_by": {"user_id": principal.subject, "role": str(principal.role)},
        "reason_code": reason_code, "allowed_user_ids": list(dict.fromkeys(allowed_user_ids)),
    }
    if head_of_service is not None:
        data["head_of_service_consulted"] = head_of_service
    ctx.emit(uow, Event(type=events.RECORD_LOCKED_DOWN, source=ctx.source,
                        subject=contact.case_reference, time=now, recordedtime=now,
                        partnership=contact.partnership, data=data), INTAKE_CONTACTS)




class AlreadyForwarded(Exception):
    """The contact has been forwarded already (forwarding twice would notify twice)."""


def note_open_case(ctx: ServiceContext, uow: UnitOfWork, contact: Contact,
                   submission: dict[str, Any], now: datetime) -> None:
    """Record the probable open case about a child, for hub staff to confirm forwarding."""
    weeks = ctx.policy.for_partnership(contact.partnership).recent_involvement_weeks
    for key in child_keys(submission):
        if not key.is_identified:
            continue
        match = find_open_case(uow.session, key, now=now,
                               recent_involvement=timedelta(weeks=weeks) if weeks else None,
                               partnership=contact.partnership)
        if match is not None and match.allocated_worker_id:
            contact.note_open_case(match.case_reference, match.reason)
            commands.publish(ctx, uow, contact)
            return


def forward_to_allocated_worker(ctx: ServiceContext, uow: UnitOfWork, contact: Contact,
                                principal: Principal, now: datetime) -> dict[str, Any]:
    """Send the contact to the open case's worker as a case note (DOMAIN.md §3)."""
    if contact.status == lifecycle.FORWARDED:
        raise AlreadyForwarded(contact.id)
    contact.check_may_become(lifecycle.FORWARDED)
    key = child_keys(json.loads(contact.submission))
    weeks = ctx.policy.for_partnership(contact.partnership).recent_involvement_weeks
    match = next((m for k in key if k.is_identified
                  for m in [find_open_case(uow.session, k, now=now,
                                           recent_involvement=timedelta(weeks=weeks)
                                           if weeks else None,
                                           partnership=contact.partnership)]
                  if m is not None and m.allocated_worker_id), None)
    if match is None:
        raise ValueError("no open case with an allocated worker matches this contact")
    data: dict[str, Any] = {
        "contact_id": contact.id, "case_reference": contact.case_reference,
        "forwarded_at": now.isoformat(),
        "forwarded_by": {"user_id": principal.subject, "role": str(principal.role)},
        "reason": match.reason, "allocated_worker_id": match.allocated_worker_id,
        "allocated_manager_id": match.allocated_manager_id,
        "last_involvement_ended_on": (match.last_involvement_ended_on.isoformat()
                                      if match.last_involvement_ended_on else None),
        "recorded_as": "case_note",
    }
    if CASE_REFERENCE.match(match.case_reference):
        data["existing_case_reference"] = match.case_reference
    contact.forward_to_allocated_worker(data, source=ctx.source, at=now)
    commands.publish(ctx, uow, contact)
    return data
