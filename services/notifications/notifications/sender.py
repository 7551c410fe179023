"""The sender: a durable timer that delivers each due notification and records the result.

Each due row is claimed with one conditional UPDATE (still pending, still due), which also
counts the attempt and leases the row for ``LEASE``: two replicas never send the same
message, and a replica that dies mid-send leaves the row to be retried when the lease ends.
The send happens outside any transaction; its result, and ``notification.sent`` or
``notification.failed`` (no address, no body), then commit together. A failed attempt is
retried with exponential back-off; after ``max_attempts`` the row is ``dead`` and the failure
event says it will not be retried, so the dashboard shows who was never told.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import update
from sqlmodel import col, select

from mashcore.envelope import Event
from mashcore.service import ServiceContext
from mashcore.topics import NOTIFICATIONS
from notifications.channels import DeliveryFailed, Message, WebhookChannel, channel_for
from notifications.invitations import ics
from notifications.models import DEAD, PENDING, SENT, Notification
from notifications.referrer_route import referrer_address
from notifications.settings import NotifySettings
from notifications.templates import Links, personalisation, render, webhook_payload
from notifications.webhooks import registered

BATCH = 100
LEASE = timedelta(minutes=5)
SENT_EVENT = "mash.notifications.notification.sent.v1"
FAILED_EVENT = "mash.notifications.notification.failed.v1"
ALERTS = ("sla_breach_alert", "manager_alert")
AGENCIES = ("police", "health", "education", "probation", "housing", "camhs",
            "youth_offending", "early_years", "local_authority", "other")

log = structlog.get_logger(__name__)


def send_due(ctx: ServiceContext) -> int:
    """Deliver every notification due now; returns how many were attempted."""
    settings = NotifySettings()
    channel = channel_for(settings)
    now = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        due = uow.session.exec(
            select(Notification.id)
            .where(col(Notification.status) == PENDING,
                   col(Notification.next_attempt_at) <= now)
            .order_by(col(Notification.next_attempt_at))
            .limit(BATCH)).all()
    attempted = 0
    for notification_id in due:
        with ctx.unit_of_work() as uow:
            claimed = uow.session.execute(
                update(Notification)
                .where(col(Notification.id) == notification_id,
                       col(Notification.status) == PENDING,
                       col(Notification.next_attempt_at) <= now)
                .values(attempts=Notification.attempts + 1, next_attempt_at=now + LEASE))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # sent by another replica, or no longer required, meanwhile
            row = uow.session.get(Notification, notification_id)
            assert row is not None
            notification = Notification.model_validate(row.model_dump())
            uow.commit()
        attempted += 1
        _deliver(ctx, settings, channel, notification, now)
    return attempted


def _deliver(ctx: ServiceContext, settings: NotifySettings, channel: Any,
             notification: Notification, now: datetime) -> None:
    failure: DeliveryFailed | None = None
    invitation = notification.kind == "meeting_invitation"
    if notification.channel == "webhook":
        with ctx.unit_of_work() as uow:  # the registry first, then the setting
            hook = (registered(uow.session, notification.partnership,
                               notification.recipient_agency)
                    or settings.webhook(notification.partnership,
                                        notification.recipient_agency))
        if hook is None:
            failure = DeliveryFailed("no_contact_route")
        else:
            try:
                WebhookChannel(hook).send(Message(
                    notification.id, hook.url, "", "",
                    payload=webhook_payload(notification, Links.of(settings))))
            except DeliveryFailed as exc:
                failure = exc
        _record(ctx, settings, notification, failure)
        return
    if notification.kind in ALERTS:
        clock = (notification.detail or "").split(" ")[1:2] or [""]
        address = settings.manager_route(notification.partnership, clock[0])
    else:
        try:
            with ctx.unit_of_work() as uow:  # the referrer's own address: this send only
                address = referrer_address(settings, uow.session, notification)
        except DeliveryFailed as exc:
            _record(ctx, settings, notification, exc)
            return
        address = address or settings.mailbox(
            "attendee" if invitation else notification.recipient_role,
            notification.partnership, notification.recipient_agency)
    if address is None:
        failure = DeliveryFailed("no_contact_route")
    else:
        subject, body = render(notification, Links.of(settings))
        message = Message(notification.id, address, subject, body, kind=notification.kind,
                           personalisation=personalisation(notification, Links.of(settings),
                                                           subject))
        if invitation and notification.payload:
            method = "CANCEL" if json.loads(notification.payload)["cancelled"] else "REQUEST"
            message = replace(message, calendar_method=method, calendar=ics(
                notification.payload, notification.case_reference, settings.sender, address))
        try:
            channel.send(message)
        except DeliveryFailed as exc:
            failure = exc
    _record(ctx, settings, notification, failure)


def _record(ctx: ServiceContext, settings: NotifySettings, notification: Notification,
            failure: DeliveryFailed | None) -> None:
    at = ctx.clock.now()
    with ctx.unit_of_work() as uow:
        row = uow.session.get(Notification, notification.id)
        assert row is not None
        if failure is None:
            row.status, row.sent_at, row.next_attempt_at = SENT, at, None
            data = {**_common(row), "sent_at": at.isoformat()}
            event_type = SENT_EVENT
        else:
            final = failure.permanent or (failure.counted
                                          and row.attempts >= settings.max_attempts)
            retry_at = None if final else at + timedelta(
                seconds=settings.backoff_seconds * 2 ** (row.attempts - 1))
            row.status = DEAD if final else PENDING
            row.next_attempt_at, row.last_failure_code = retry_at, failure.code
            data = {**_common(row), "failed_at": at.isoformat(),
                    "failure_reason_code": failure.code, "will_retry": not final,
                    "next_attempt_at": retry_at.isoformat() if retry_at else None}
            event_type = FAILED_EVENT
            if not failure.counted:
                row.attempts -= 1  # not the message's failure: its attempts stay
            log.warning("notification not delivered", notification_id=row.id, kind=row.kind,
                        attempt=row.attempts, reason_code=failure.code, final=final)
        uow.session.add(row)
        ctx.emit(uow, Event(type=event_type, source=ctx.source, subject=row.case_reference,
                            time=at, recordedtime=at, partnership=row.partnership,
                            data=data), NOTIFICATIONS)
        uow.commit()


def _common(row: Notification) -> dict[str, Any]:
    agency = row.recipient_agency if row.recipient_agency in AGENCIES else "other"
    return {"notification_id": row.id, "case_reference": row.case_reference,
            "kind": row.kind, "channel": row.channel,
            "recipient": {"role": row.recipient_role, "agency": agency},
            "caused_by_event_id": row.caused_by_event_id,
            "caused_by_event_type": row.caused_by_event_type, "attempt": row.attempts}
