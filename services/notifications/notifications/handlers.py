"""What notifications does with other services' events: each event's notification row
commits with its inbox row (one message per triggering event, exactly once in effect).

Referrer feedback (DOMAIN.md §7, §10) goes to professional referrers only: never to a
member of the public or an anonymous referrer (intake's agency ``public``), and not for a
linked referral the hub created itself (its acknowledgement, held for a short while, is
marked ``not_required`` when intake's linked-referral announcement arrives right after).
The timekeeper's feedback clocks follow the same rules (sla_timekeeper/defaults.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select

from intake.events import (
    CONTACT_RECEIVED,
    DASH_REQUESTED,
    LINKED_REFERRAL_CREATED,
    RETURNED_FOR_CONSENT,
)
from mashcore.consumer import EventHandler, NotYetKnown
from mashcore.db import UnitOfWork
from mashcore.envelope import Event, parse_time
from mashcore.ids import new_id
from mashcore.service import ServiceContext
from notifications import webhooks
from notifications.invitations import meeting_payload
from notifications.models import NOT_REQUIRED, PENDING, Notification, ReferrerRecord
from notifications.settings import NotifySettings

THRESHOLD_DECIDED = "mash.triage.threshold.decided.v1"
OUTCOME_DECIDED = "mash.enquiries.outcome.decided.v1"
INFORMATION_REQUESTED = "mash.enquiries.information.requested.v1"
REQUEST_CHASED = "mash.enquiries.request.chased.v1"
DISCUSSION_SCHEDULED = "mash.strategy.discussion.scheduled.v1"
DISCUSSION_CANCELLED = "mash.strategy.discussion.cancelled.v1"
ICPC_SCHEDULED = "mash.strategy.icpc.scheduled.v1"
CORE_GROUP_SCHEDULED = "mash.strategy.core-group.scheduled.v1"
REVIEW_SCHEDULED = "mash.strategy.review-conference.scheduled.v1"
ICPC_CANCELLED = "mash.strategy.icpc.cancelled.v1"
CORE_GROUP_CANCELLED = "mash.strategy.core-group.cancelled.v1"
REVIEW_CANCELLED = "mash.strategy.review-conference.cancelled.v1"
CLOCK_BREACHED = "mash.sla.clock.breached.v1"
CLOCK_WARNED = "mash.sla.clock.warned.v1"
ACK, OUTCOME = "referrer_acknowledgement", "referrer_outcome"
CONSENT_RETURN, DASH_REQUEST = "consent_return", "dash_request"
PUBLIC = "public"
# Routes at triage that end the MASH episode there (mash_enquiries ends with its outcome).
ENDS_AT_TRIAGE = ("nfa", "information_and_advice", "early_help", "strategy_discussion",
                  "allocated_worker")


def _queue(ctx: ServiceContext, uow: UnitOfWork, event: Event, referrer: ReferrerRecord,
           kind: str, *, detail: str | None = None, hold: float = 0.0) -> None:
    _add(ctx, uow, event, kind, partnership=referrer.partnership, role="referrer",
         agency=referrer.agency, detail=detail, hold=hold)


def _add(ctx: ServiceContext, uow: UnitOfWork, event: Event, kind: str, *, partnership: str,
         role: str, agency: str, detail: str | None = None, hold: float = 0.0,
         payload: str | None = None, channel: str = "email") -> None:
    now = ctx.clock.now()
    uow.session.add(Notification(
        id=new_id(), case_reference=event.subject,
        partnership=partnership, kind=kind, channel=channel,
        recipient_role=role, recipient_agency=agency,
        caused_by_event_id=event.id, caused_by_event_type=event.type, detail=detail,
        payload=payload,
        status=PENDING, attempts=0, next_attempt_at=now + timedelta(seconds=hold),
        created_at=now))


def intake_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    def received(event: Event, uow: UnitOfWork) -> None:
        if uow.session.get(ReferrerRecord, event.subject) is not None:
            return
        data = event.data
        agency = str(data["referrer"]["agency"])
        referrer = ReferrerRecord(
            case_reference=event.subject, contact_id=str(data["contact_id"]),
            partnership=event.partnership, agency=agency, professional=agency != PUBLIC,
            received_at=parse_time(str(data["received_at"])))
        uow.session.add(referrer)
        if referrer.professional:
            _queue(ctx, uow, event, referrer, ACK, hold=NotifySettings().hold_seconds)

    def linked(event: Event, uow: UnitOfWork) -> None:
        referrer = uow.session.get(ReferrerRecord, event.subject)
        if referrer is None:
            raise NotYetKnown(f"contact:{event.subject}")
        referrer.hub_created = True
        uow.session.add(referrer)
        uow.session.execute(
            update(Notification)
            .where(col(Notification.case_reference) == event.subject,
                   col(Notification.status) == PENDING,
                   col(Notification.kind).in_((ACK, OUTCOME)))
            .values(status=NOT_REQUIRED, next_attempt_at=None))

    def returned_for_consent(event: Event, uow: UnitOfWork) -> None:
        """The contact goes back to its professional referrer to discuss consent with the
        family (DOMAIN.md §5): a notice to the agency's referrer mailbox with the reference
        and a link, never the guidance text or a name; never to the public."""
        agency = str(event.data["referrer"]["agency"])
        if agency == PUBLIC:
            return  # the contract forbids it; never the public all the same
        _add(ctx, uow, event, CONSENT_RETURN, partnership=event.partnership,
             role="referrer", agency=agency,
             detail=str(event.data["consent_to_referral"]))

    def dash_requested(event: Event, uow: UnitOfWork) -> None:
        """A police domestic-abuse referral without its DASH: the request goes to the police
        referrer's mailbox (DOMAIN.md §3) with the reference, the police's own number and
        the due time; identifiers only, never a name."""
        data = event.data
        _add(ctx, uow, event, DASH_REQUEST, partnership=event.partnership, role="referrer",
             agency="police",
             detail=" ".join(str(data.get(k) or "") for k in
                             ("request_id", "response_due_at", "police_reference")))

    return {CONTACT_RECEIVED: received, LINKED_REFERRAL_CREATED: linked,
            RETURNED_FOR_CONSENT: returned_for_consent, DASH_REQUESTED: dash_requested}


def _outcome(ctx: ServiceContext, uow: UnitOfWork, event: Event, outcome: str) -> None:
    referrer = uow.session.get(ReferrerRecord, event.subject)
    if referrer is None:
        raise NotYetKnown(f"contact:{event.subject}")
    if referrer.professional and not referrer.hub_created:
        _queue(ctx, uow, event, referrer, OUTCOME, detail=outcome)


def triage_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    def decided(event: Event, uow: UnitOfWork) -> None:
        route = str(event.data["route"])
        if route in ENDS_AT_TRIAGE:
            _outcome(ctx, uow, event, route)

    return {THRESHOLD_DECIDED: decided}


def enquiries_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """The outcome ends the episode (referrer feedback); each information request and each
    chaser goes to the agency's navigators' shared mailbox: the reference, the deadline and
    a link to the request, never who it is about (DOMAIN.md §10)."""

    def outcome(event: Event, uow: UnitOfWork) -> None:
        _outcome(ctx, uow, event, str(event.data["outcome"]))

    def to_navigators(kind: str) -> EventHandler:
        def handle(event: Event, uow: UnitOfWork) -> None:
            data = event.data
            agency = str(data["agency"])
            hook = (webhooks.registered(uow.session, event.partnership, agency)
                    or NotifySettings().webhook(event.partnership, agency))
            _add(ctx, uow, event, kind, partnership=event.partnership, role="navigator",
                 agency=agency, detail=f"{data['request_id']} {data['deadline']}",
                 channel="webhook" if hook is not None else "email")
        return handle

    return {OUTCOME_DECIDED: outcome,
            INFORMATION_REQUESTED: to_navigators("navigator_request"),
            REQUEST_CHASED: to_navigators("navigator_chaser")}


def strategy_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """A strategy discussion, conference or core group scheduled, rescheduled or cancelled:
    an iCalendar invitation, update or cancellation to each invited agency's attendee
    mailbox (one per agency; the same UID every time, strategy's SEQUENCE), no names
    (DOMAIN.md §7, §10). A cancellation carries the invitees the last invitation went to."""

    def invite(cancelled: bool, title: str = "Strategy discussion",
               page: str = "strategy/discussions") -> EventHandler:
        def handle(event: Event, uow: UnitOfWork) -> None:
            payload = meeting_payload(event, cancelled=cancelled, title=title, page=page)
            first_role: dict[str, str] = {}
            for invitee in event.data["invitees"]:
                if invitee.get("agency") is None:
                    continue  # family, advocates: invited by the social worker, not by mail
                first_role.setdefault(str(invitee["agency"]), str(invitee["role"]))
            for agency, role in first_role.items():
                if agency == PUBLIC:
                    continue  # never the public (the contract forbids it too)
                _add(ctx, uow, event, "meeting_invitation", partnership=event.partnership,
                     role=role, agency=agency, payload=payload)
        return handle

    # (title, the meeting's page in the workbench)
    icpc = ("Child protection conference", "conferences")
    review = ("Review child protection conference", "review-conferences")
    core_group = ("Core group meeting", "core-groups")
    return {DISCUSSION_SCHEDULED: invite(False), DISCUSSION_CANCELLED: invite(True),
            ICPC_SCHEDULED: invite(False, *icpc), ICPC_CANCELLED: invite(True, *icpc),
            REVIEW_SCHEDULED: invite(False, *review), REVIEW_CANCELLED: invite(True, *review),
            CORE_GROUP_SCHEDULED: invite(False, *core_group),
            CORE_GROUP_CANCELLED: invite(True, *core_group)}


def sla_handlers(ctx: ServiceContext) -> Mapping[str, EventHandler]:
    """Breaches (and late warnings) to the team managers the partnership routes each clock
    to (``MASH_NOTIFY_MANAGER_ROUTES``), once per clock and kind: a replayed or repeated
    event sends nothing more. The SLA topic carries no personal data, nor does the alert."""

    def alert(kind: str) -> EventHandler:
        def handle(event: Event, uow: UnitOfWork) -> None:
            data = event.data
            settings = NotifySettings()
            if kind == "manager_alert" and float(data["percent_elapsed"]) < \
                    settings.warn_at_percent:
                return
            if settings.manager_route(event.partnership, str(data["clock"])) is None:
                return  # routed nowhere: this partnership wants no alert for this clock
            clock_id = str(data["clock_id"])
            seen = uow.session.exec(select(Notification.id).where(
                col(Notification.kind) == kind,
                col(Notification.detail).startswith(f"{clock_id} "))).first()
            if seen is not None:
                return
            _add(ctx, uow, event, kind, partnership=event.partnership, role="team_manager",
                 agency="local_authority",
                 detail=f"{clock_id} {data['clock']} {data['due_at']}")
        return handle

    return {CLOCK_BREACHED: alert("sla_breach_alert"), CLOCK_WARNED: alert("manager_alert")}
