"""The referrer's own address, read from intake at send time (DOMAIN.md §7, §10; issue 16).

For an acknowledgement, an outcome or a consent-return notice, the sender asks intake
(``GET /internal/v1/contacts/{contact_id}/referrer-route`` with the ``service`` token of
``MASH_NOTIFY_INTAKE_TOKEN``) where the referrer's feedback goes. The address is used for
that one send and dropped: never stored, logged or put on a topic. 404 (no email, or no
feedback due to this referrer): the agency's mailbox, as before. Intake unreachable or
failing: the message waits and is retried, without using up its attempts. Without
``MASH_NOTIFY_INTAKE_URL`` the agency's mailbox is used (the behaviour before intake had
the read).
"""

from __future__ import annotations

import httpx
from sqlmodel import Session

from notifications.channels import DeliveryFailed
from notifications.models import Notification, ReferrerRecord
from notifications.settings import NotifySettings

KINDS = ("referrer_acknowledgement", "referrer_outcome", "consent_return")


def referrer_address(settings: NotifySettings, session: Session,
                     notification: Notification) -> str | None:
    """The referrer's own email for ``notification``, or None (use the agency's mailbox).
    Raises ``DeliveryFailed("no_contact_route", counted=False)`` (retried, never dead) when
    intake cannot say."""
    if (notification.kind not in KINDS or notification.recipient_role != "referrer"
            or not settings.intake_url):
        return None
    referrer = session.get(ReferrerRecord, notification.case_reference)
    if referrer is None:
        return None
    token = settings.intake_token.get_secret_value() if settings.intake_token else ""
    url = (f"{settings.intake_url.rstrip('/')}/internal/v1/contacts/{referrer.contact_id}"
           "/referrer-route")
    try:
        response = httpx.get(url, params={"partnership": notification.partnership},
                             headers={"Authorization": f"Bearer {token}"},
                             timeout=settings.intake_timeout)
    except httpx.HTTPError as exc:
        raise DeliveryFailed("no_contact_route", counted=False) from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise DeliveryFailed("no_contact_route", counted=False)
    email = response.json().get("email")
    return str(email) if email else None
