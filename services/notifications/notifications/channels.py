"""Delivery channels behind one interface: a message in, accepted or a failure code out.

A channel never logs a message's body or address. ``SmtpChannel`` speaks SMTP (stdlib
smtplib) to the configured relay; the ``Message-ID`` is the notification's id, so a
message resent after a crash between the relay accepting it and the row being marked sent
is recognisable as the same message.
"""

from __future__ import annotations

import json
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

import httpx
import standardwebhooks
from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from notifications.settings import NotifySettings, Webhook


@dataclass(frozen=True)
class Message:
    notification_id: str
    to: str
    subject: str
    body: str
    # An iCalendar invitation (RFC 5545), attached as text/calendar.
    calendar: bytes | None = None
    calendar_method: str = "REQUEST"
    # For a webhook: the JSON body (a reference, ids, times and a link; never names).
    payload: dict[str, Any] | None = None
    # For GOV.UK Notify: the message's kind (its template) and the template's fields
    # (reference, times, link; never a name).
    kind: str = ""
    personalisation: dict[str, str] | None = None


class DeliveryFailed(Exception):
    """The channel did not accept the message; ``code`` is notification.failed's reason
    code, ``permanent`` when retrying cannot help; not ``counted`` when the failure was not
    the message's (e.g. intake could not give the address): retried without using an
    attempt, so it never makes the message dead."""

    def __init__(self, code: str, *, permanent: bool = False, counted: bool = True) -> None:
        super().__init__(code)
        self.code = code
        self.permanent = permanent
        self.counted = counted


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None: ...


class SmtpChannel:
    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        self.settings = settings

    def send(self, message: Message) -> None:
        s = self.settings
        email = EmailMessage()
        email["From"] = s.sender
        email["To"] = message.to
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(idstring=message.notification_id,
                                         domain=s.sender.rpartition("@")[2] or "localhost")
        email.set_content(message.body)
        if message.calendar is not None:
            email.add_attachment(message.calendar, maintype="text", subtype="calendar",
                                 filename="invite.ics",
                                 params={"method": message.calendar_method})
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout) as smtp:
                if s.smtp_starttls:
                    smtp.starttls()
                if s.smtp_username and s.smtp_password:
                    smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryFailed("address_rejected", permanent=True) from exc
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryFailed("provider_rejected" if permanent else "provider_unavailable",
                                 permanent=permanent) from exc
        except TimeoutError as exc:
            raise DeliveryFailed("timeout") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed("provider_unavailable") from exc


class LogOnlyChannel:
    """Development: nothing leaves the process."""

    name = "email"

    def send(self, message: Message) -> None:
        return None


class WebhookChannel:
    """POSTs the message's JSON to a partner system, signed per Standard Webhooks: the
    ``webhook-id`` is the notification's id (the same on every retry, so the partner can
    drop a repeat), ``webhook-timestamp`` the attempt's time, ``webhook-signature`` one
    ``v1,<base64>`` per configured secret, space-separated."""

    name = "webhook"

    def __init__(self, hook: Webhook, timeout: float = 10.0) -> None:
        self.hook = hook
        self.timeout = timeout

    def send(self, message: Message) -> None:
        body = json.dumps(message.payload, separators=(",", ":"))
        now = datetime.now(UTC)
        signatures = " ".join(
            standardwebhooks.Webhook(secret.get_secret_value()).sign(
                message.notification_id, now, body)
            for secret in self.hook.secrets)
        headers = {"content-type": "application/json", "webhook-id": message.notification_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signatures}
        try:
            response = httpx.post(self.hook.url, content=body, headers=headers,
                                  timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise DeliveryFailed("timeout") from exc
        except httpx.HTTPError as exc:
            raise DeliveryFailed("provider_unavailable") from exc
        if response.status_code == 429:
            raise DeliveryFailed("rate_limited")
        if response.status_code >= 500:
            raise DeliveryFailed("provider_unavailable")
        if response.status_code >= 400:
            raise DeliveryFailed("provider_rejected", permanent=True)


class GovukNotifyChannel:
    """Email through GOV.UK Notify's API (its official client, which signs each request with
    a JWT from the API key): the kind's template, the message's personalisation, and the
    notification's id as Notify's ``reference`` (a resend after a crash is recognisable as
    the same message in Notify's records). Notify's 429 and 5xx are retried like an SMTP
    relay's 4xx; its other 4xx (a bad address, template, or key) are permanent: ``dead``."""

    name = "email"

    def __init__(self, settings: NotifySettings) -> None:
        assert settings.govuk_api_key is not None  # checked at start-up (settings)
        self.templates = settings.govuk_template_ids
        self.client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
            settings.govuk_api_key.get_secret_value(), base_url=settings.govuk_base_url,
            timeout=settings.govuk_timeout)

    def send(self, message: Message) -> None:
        template = self.templates.get(message.kind)
        if template is None:
            raise DeliveryFailed("template_missing", permanent=True)
        try:
            self.client.send_email_notification(  # type: ignore[no-untyped-call]
                email_address=message.to, template_id=template,
                personalisation=message.personalisation or {},
                reference=message.notification_id)
        except APIError as exc:
            status = exc.status_code
            if status == 429:
                raise DeliveryFailed("rate_limited") from exc
            if status >= 500:
                raise DeliveryFailed("provider_unavailable") from exc
            if status == 400 and "email_address" in str(exc.message):
                raise DeliveryFailed("address_rejected", permanent=True) from exc
            raise DeliveryFailed("provider_rejected", permanent=True) from exc


def channel_for(settings: NotifySettings) -> Channel:
    if settings.channel == "govuk_notify":
        return GovukNotifyChannel(settings)
    return SmtpChannel(settings) if settings.channel == "smtp" else LogOnlyChannel()
