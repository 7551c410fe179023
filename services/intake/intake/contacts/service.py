"""Intake's service layer: each command runs in one unit of work."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from intake import access, domain, events, lifecycle
from intake.checks import cross_border, quality
from intake.commands import Answer, Idempotent
from intake.contacts import routing, time_corrections
from intake.contacts.api_models import (
    ContactAccepted,
    ContactView,
    LockDownIn,
    QualityFeedback,
    ReferralIn,
)
from intake.contacts.models import Contact, ContactLink
from intake.errors import Refused
from mashcore.audit import AuditAction, audit, audit_listed, audit_read_or_404
from mashcore.auth import Principal, Role
from mashcore.db import UnitOfWork
from mashcore.envelope import Event
from mashcore.ids import new_id
from mashcore.plainwords import matcher_for
from mashcore.problems import ProblemHTTPException
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS

log = structlog.get_logger(__name__)
HUB_ROLES = (Role.INFORMATION_OFFICER, Role.TEAM_MANAGER)


def partnership_for(ctx: ServiceContext, principal: Principal, requested: str | None) -> str:
    """The partnership a contact goes to: the caller's own, unless its account has none."""
    own = principal.partnership
    if own and requested and requested != own:
        raise ProblemHTTPException(
            422, "Invalid referral", "partnership: your account sends to its own partnership",
            extra={"errors": [{"field": "partnership",
                               "message": "must be your account's partnership or left out"}]},
        )
    return own or requested or ctx.settings.partnership_default


def submit_contact(
    ctx: ServiceContext, principal: Principal, body: ReferralIn, idempotency_key: str | None
) -> JSONResponse:
    """Record the contact and its ``contact.received`` event in one transaction."""
    submission = body.model_dump(mode="json")
    request = Idempotent.of(principal, idempotency_key, submission)
    now = ctx.clock.now()

    errors = quality.date_errors(body, domain.local_today(now))
    if errors:
        raise ProblemHTTPException(
            422,
            "Invalid referral",
            "Faulty fields: " + ", ".join(e.field for e in errors),
            extra={"errors": [{"field": e.field, "message": e.message} for e in errors]},
        )
    partnership = partnership_for(ctx, principal, body.partnership)
    # Hub staff may record a contact that came in earlier: the clocks count from then.
    received = time_corrections.received_at(ctx, principal, partnership, body.received_at, now)
    assessment = quality.assess(body, principal.agency, matcher_for(ctx.policy, partnership))
    via_hub = principal.role == Role.INFORMATION_OFFICER
    agency = domain.referrer_agency(principal.agency, body.referrer.anonymous,
                                    via_hub_worker=via_hub)

    def receive(uow: UnitOfWork) -> Answer:
        contact = Contact(
            id=domain.new_contact_id(),
            case_reference=domain.new_case_reference(now),
            kind=body.kind,
            partnership=partnership,
            referrer_agency=principal.agency,
            referrer_subject=principal.subject,
            status=lifecycle.RECEIVED,
            received_at=received,
            submission=body.model_dump_json(),
            restricted=bool(body.staff_linked),
        )
        uow.session.add(contact)
        uow.session.flush()  # links and linked referrals refer to the row
        ctx.emit(uow, Event(
            type=events.CONTACT_RECEIVED,
            source=ctx.source,
            subject=contact.case_reference,
            time=received,
            recordedtime=now,
            partnership=contact.partnership,
            data=domain.contact_received_data(
                contact_id=contact.id,
                case_reference=contact.case_reference,
                kind=contact.kind,
                partnership=contact.partnership,
                referrer_agency=agency,
                referrer_role="member of the public" if agency == "public"
                else body.referrer.role,
                children=submission["children"],
                concern_summary=body.concern.summary,
                received_at=received,
                staff_linked=body.staff_linked,
                family=domain.family_for_event(submission),
                postcode=body.address.postcode if body.address else None,
                address=submission.get("address"),
            ),
        ), INTAKE_CONTACTS)
        if body.kind == "referral":
            ctx.emit(uow, Event(
                type=events.REFERRAL_ACCEPTED, source=ctx.source, subject=contact.case_reference,
                time=received, recordedtime=now, partnership=contact.partnership,
                data=domain.referral_accepted_data(
                    contact_id=contact.id, case_reference=contact.case_reference,
                    accepted_at=received, submission=submission, agency=agency,
                    quality=assessment.event_data()),
            ), INTAKE_CONTACTS)
        if domain.dash_missing(principal.agency, submission.get("domestic_abuse")):
            ctx.emit(uow, Event(
                type=events.DASH_REQUESTED, source=ctx.source, subject=contact.case_reference,
                time=now, recordedtime=now, partnership=contact.partnership,
                data=domain.dash_requested_data(
                    request_id=new_id(), contact_id=contact.id,
                    case_reference=contact.case_reference, requested_at=now),
            ), INTAKE_CONTACTS)
        routing.link_repeats(uow, contact, submission, now,
                             timedelta(days=ctx.settings.repeat_window_days))
        routing.create_linked_referrals(ctx, uow, contact, submission, principal, now)
        routing.note_open_case(ctx, uow, contact, submission, now)
        accepted = ContactAccepted(
            contact_id=contact.id, case_reference=contact.case_reference,
            status=lifecycle.RECEIVED, received_at=received,
            quality=QualityFeedback.of(assessment),
        )
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource="contact",
              resource_id=contact.id, case_reference=contact.case_reference, at=now,
              partnership=contact.partnership)
        return Answer(202, accepted.model_dump(mode="json"), f"/v1/contacts/{contact.id}",
                      lambda: log.info("contact received", case_reference=contact.case_reference,
                                       contact_id=contact.id, kind=contact.kind,
                                       agency=principal.agency,
                                       partnership=contact.partnership))

    return request.run(ctx, now, receive, look_first=False)


def get_contact(ctx: ServiceContext, principal: Principal, contact_id: str) -> ContactView:
    """A contact, to its own agency or the hub of its partnership; every read (and refusal)
    is audited, and so is each linked contact shown."""
    with ctx.unit_of_work() as uow:
        contact = access.find_contact(ctx, uow, principal, contact_id)
        audit_read_or_404(uow, principal=principal, what="contact", resource="contact",
                          resource_id=contact_id, allowed=contact is not None,
                          at=ctx.clock.now(),
                          case_reference=contact.case_reference if contact else None,
                          partnership=contact.partnership if contact else None,
                          owner=None if contact else access.contact_owner(uow, contact_id))
    assert contact is not None
    submitted = ReferralIn.model_validate_json(routing.stored_referral(contact.submission))
    hub = principal.role != Role.REFERRER
    # A referrer is not told that the child has an open case (that is for the hub to check).
    status = contact.status if hub or contact.status != "open_case_found" else "received"
    return ContactView(
        linked_contacts=repeat_links(ctx, principal, contact) if hub else [],
        open_case_reference=contact.open_case_reference if hub else None,
        contact_id=contact.id, case_reference=contact.case_reference, status=status,
        received_at=contact.received_at, kind=contact.kind, partnership=contact.partnership,
        referrer_agency=contact.referrer_agency,
        quality=QualityFeedback.of(quality.assess(submitted, contact.referrer_agency,
                                                   matcher_for(ctx.policy, contact.partnership))),
    )


def list_contacts(ctx: ServiceContext, principal: Principal, limit: int) -> list[dict[str, Any]]:
    """The contacts the caller may see, newest first (identifiers and status only): a partner
    system its agency's, hub staff their partnership's. Each contact listed is audited."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        rows = uow.session.exec(
            select(Contact).where(access.contact_visible(access.scope(ctx, principal)))
            .order_by(col(Contact.received_at).desc()).limit(limit)).all()
        audit_listed(uow.session, principal=principal, resource="contact_list", at=now,
                     listed=[(c.id, c.case_reference, c.partnership) for c in rows])
        uow.commit()
    return [
        {"contact_id": c.id, "case_reference": c.case_reference, "status": c.status,
         "received_at": c.received_at.isoformat()}
        for c in rows
    ]


def repeat_links(ctx: ServiceContext, principal: Principal,
                 contact: Contact) -> list[dict[str, Any]]:
    """Contacts linked to this one (repeats about the same child, linked referrals) that the
    caller may see, each audited; another partnership's only as its pack allows
    (intake.cross_border)."""
    now = ctx.clock.now()
    who = access.scope(ctx, principal)
    with ctx.unit_of_work() as uow:
        linked = uow.session.exec(select(Contact).where(
            col(Contact.id).in_(cross_border.linked_ids(contact.id)),
            access.contact_visible(who)).order_by(col(Contact.received_at))).all()
        links = {link.linked_contact_id if link.contact_id == contact.id else link.contact_id:
                 link for link in uow.session.exec(select(ContactLink).where(
                     (ContactLink.contact_id == contact.id)
                     | (ContactLink.linked_contact_id == contact.id)))}
        result: list[dict[str, Any]] = []
        for other in linked:
            link = links[other.id]
            audit(uow.session, principal=principal, action=AuditAction.READ,
                  resource="contact_link", resource_id=other.id,
                  case_reference=other.case_reference, at=now, partnership=other.partnership)
            result.append({"contact_id": other.id, "case_reference": other.case_reference,
                           "reason": link.reason, "score": link.score})
        result += cross_border.other_partnership_links(ctx, uow, principal, contact)
        uow.commit()
    return result


def lock_down(ctx: ServiceContext, principal: Principal, contact_id: str,
              request: LockDownIn) -> dict[str, Any]:
    """A team manager restricts a staff-linked record to named users."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        contact = access.contact_to_change(ctx, uow, principal, contact_id)  # audited 404
        routing.lock_down(
            ctx, uow, contact, principal, allowed_user_ids=request.allowed_user_ids,
            reason_code=request.reason_code,
            head_of_service=({"user_id": request.head_of_service_consulted.user_id,
                              "consulted_at": request.head_of_service_consulted.consulted_at
                              .isoformat()} if request.head_of_service_consulted else None),
            now=now)
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource="contact",
              resource_id=contact_id, case_reference=contact.case_reference, at=now,
              partnership=contact.partnership)
        uow.commit()
    return {"contact_id": contact_id, "restricted": True,
            "allowed_user_ids": list(dict.fromkeys(request.allowed_user_ids))}


def forward(ctx: ServiceContext, principal: Principal, contact_id: str) -> dict[str, Any]:
    """Hub staff confirm: this is case information for the open case's allocated worker."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        contact = access.contact_to_change(ctx, uow, principal, contact_id)  # audited 404
        try:
            data = routing.forward_to_allocated_worker(ctx, uow, contact, principal, now)
        except routing.AlreadyForwarded:
            return {"contact_id": contact_id, "status": lifecycle.FORWARDED}
        except lifecycle.IllegalTransition as exc:
            raise Refused("Contact cannot be forwarded", str(exc)) from exc
        except ValueError as exc:
            raise Refused("No open case to forward to", str(exc)) from exc
        audit(uow.session, principal=principal, action=AuditAction.WRITE, resource="contact",
              resource_id=contact_id, case_reference=contact.case_reference, at=now,
              partnership=contact.partnership)
        uow.commit()
    return {"contact_id": contact_id, "status": lifecycle.FORWARDED,
            "allocated_worker_id": data["allocated_worker_id"]}
