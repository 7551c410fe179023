"""Navigator webhooks and meeting invitations as separate processes over the real Kafka
broker and PostgreSQL (issue 16's e2e list; the referrer feedback half is in
test_notifications_over_kafka.py). A Red case's police information request reaches the
partner endpoint a team manager registered through ``/v1/webhooks``: a loopback receiver
verifies its Standard Webhooks signature with the registered secret, and the body carries
the references and a link that opens the request, never the child's name. A scheduled
strategy discussion reaches each invited agency's calendar mailbox on a real SMTP server
(aiosmtpd) as an ``.ics`` the icalendar library parses; a reschedule sends the same UID with
a higher SEQUENCE and the new start. The sender's timer runs every 15 seconds in the
notifications process: each wait allows a few runs."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import httpx
import pytest
import standardwebhooks
from aiosmtpd.controller import Controller
from icalendar import Calendar

from devinfra.processes import ServiceProcess
from tests.integration.notifications_support import Inbox, free_port
from tests.integration.test_notifications_navigators_and_outcome import Receiver
from tests.support import auth, eventually_sync, synthetic_referral

P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-w", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-w", partnership=P)
BS = auth("business_support", "local_authority", subject="bs-w", partnership=P)
POLICE_NAVIGATOR = auth("navigator", "police", subject="nav-w", partnership=P)
SURNAME = "Quillerbrook"  # the synthetic child's: must appear in no message
CONSENT = {"consent_to_referral": "yes", "consent_to_information_sharing": "yes"}
KEY = base64.urlsafe_b64encode(b"synthetic-e2e-webhook-key-012345").decode()
NAVIGATORS = {"police": "police-mash@police.example", "health": "mash@health.example",
              "education": "mash@education.example", "probation": "mash@probation.example"}
ATTENDEES = {"local_authority": "mash-team@council.example", "health": "sg@health.example",
             "police": "mash@police.example", "education": "dsl@school.example"}
INVITEES = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-w"},
            {"role": "practitioner", "agency": "health", "user_id": "hv-w"},
            {"role": "navigator", "agency": "police", "user_id": "pc-w"}]


@pytest.fixture
def smtp(system_env: dict[str, str], postgres_server: Any) -> Iterator[Inbox]:
    """A real SMTP server on a free loopback port, the sender pointed at it; the databases
    of notifications and strategy beside the conftest's."""
    prefix = system_env["MASH_TOPIC_NAMESPACE"].removesuffix(".")
    for service in ("notifications", "strategy"):
        postgres_server.create_database(f"{prefix}_{service}")
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    system_env["MASH_NOTIFY_SMTP_PORT"] = str(port)
    try:
        yield inbox
    finally:
        controller.stop()


def _referral(n: int) -> dict[str, Any]:
    return synthetic_referral(n, partnership=P, consent=CONSENT, children=[
        {"first_name": "Synthetic", "last_name": SURNAME, "date_of_birth": "2015-06-01"}])


def _refer_and_decide(intake: ServiceProcess, triage: ServiceProcess, n: int,
                      route: str) -> str:
    """A school's referral decided Red with ``route``: its case reference."""
    r = httpx.post(f"{intake.url}/v1/contacts", json=_referral(n), headers=SCHOOL, timeout=10)
    assert r.status_code == 202, r.text
    reference = str(r.json()["case_reference"])

    def decided() -> bool:  # triage knows the case once intake's event has reached it
        return httpx.post(f"{triage.url}/v1/cases/{reference}/threshold-decision",
                          headers=TM, timeout=10,
                          json={"level_code": "L4", "brag": "red", "route": route,
                                "rationale": "Synthetic: disclosure of harm."}
                          ).status_code == 200
    eventually_sync(decided, timeout=30, what="the threshold decision")
    return reference


def _delivery_log(notifications: ServiceProcess, reference: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{notifications.url}/v1/notifications", headers=TM, timeout=10,
                  params={"case_reference": reference})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()
    return rows


def _verifies(secret: str, headers: dict[str, str], raw: bytes) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(raw, headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


def test_a_red_case_s_police_request_reaches_the_registered_webhook_signed_without_names(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str], smtp: Inbox,
) -> None:
    receiver = Receiver()
    try:
        intake, triage = launch("intake"), launch("triage")
        enquiries = launch("mash-enquiries")
        # A webhook's link is where the partner system reads the request: mash-enquiries' API.
        system_env.update({"MASH_NOTIFY_ALLOW_HTTP_WEBHOOKS": "true",
                           "MASH_NOTIFY_WEBHOOK_KEY": KEY,
                           "MASH_NOTIFY_API_BASE": enquiries.url,
                           "MASH_NOTIFY_NAVIGATOR_MAILBOXES": json.dumps({P: NAVIGATORS})})
        notifications = launch("notifications")

        created = httpx.post(f"{notifications.url}/v1/webhooks", headers=TM, timeout=10,
                             json={"agency": "police", "url": receiver.url})
        assert created.status_code == 201, created.text
        secret = str(created.json()["secret"])
        assert secret.startswith("whsec_")

        reference = _refer_and_decide(intake, triage, 41, "mash_enquiries")
        [(headers, raw)] = eventually_sync(lambda: receiver.received, timeout=60,
                                           what="the police system's webhook")

        assert _verifies(secret, headers, raw)
        other = "whsec_" + base64.b64encode(b"synthetic-not-the-registered-key").decode()
        assert not _verifies(other, headers, raw)
        assert not _verifies(secret, headers, raw.replace(reference.encode(), b"MASH-X"))
        payload = json.loads(raw)
        assert payload["type"] == "mash.navigator_request"
        data = payload["data"]
        assert data["case_reference"] == reference
        assert data["link"] == f"{enquiries.url}/v1/requests/{data['request_id']}"
        for personal in (SURNAME, "Synthetic", "2015-06-01", "Testreferrer"):
            assert personal.encode() not in raw, personal

        # Who the request is about is read through the link, by the police's navigator only.
        opened = httpx.get(data["link"], headers=POLICE_NAVIGATOR, timeout=10)
        assert opened.status_code == 200, opened.text
        request = opened.json()
        assert request["request_id"] == data["request_id"] and SURNAME in opened.text
        assert datetime.fromisoformat(request["deadline"]) == datetime.fromisoformat(
            data["deadline"])
        assert httpx.get(data["link"], timeout=10).status_code == 401

        # The police's request went to its system, not also to its mailbox; health's by email.
        def health_mail() -> list[bytes]:
            return [m for to, m in smtp.messages if to == [NAVIGATORS["health"]]]
        [mail] = eventually_sync(health_mail, timeout=60, what="health's request by email")
        assert reference.encode() in mail and SURNAME.encode() not in mail
        assert all(to != [NAVIGATORS["police"]] for to, _ in smtp.messages)

        def police_row() -> dict[str, Any] | None:
            rows = [r for r in _delivery_log(notifications, reference)
                    if r["kind"] == "navigator_request" and r["recipient_agency"] == "police"]
            return rows[0] if rows and rows[0]["status"] == "sent" else None
        row = eventually_sync(police_row, timeout=30, what="the webhook recorded as sent")
        assert row["channel"] == "webhook" and row["notification_id"] == headers["webhook-id"]
        assert len(receiver.received) == 1  # exactly one delivery of the one request
    finally:
        receiver.server.shutdown()


def _invites(smtp: Inbox) -> list[tuple[str, str, Calendar]]:
    """(recipient, subject, parsed calendar) of every message with a text/calendar part; no
    message names the child."""
    found = []
    for to, raw in smtp.messages:
        mail = message_from_bytes(raw)
        for part in mail.walk():
            if part.get_content_type() == "text/calendar":
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                assert SURNAME.encode() not in raw and b"Synthetic" not in data
                assert part.get_param("method") == "REQUEST"
                found.append((to[0], str(mail["Subject"]), Calendar.from_ical(data)))
    return found


def _delivered(smtp: Inbox, count: int) -> list[tuple[str, str, Calendar]]:
    def enough() -> list[tuple[str, str, Calendar]] | None:
        found = _invites(smtp)
        return found if len(found) >= count else None
    return eventually_sync(enough, timeout=60, what=f"{count} invitations")


def test_a_scheduled_strategy_discussion_sends_an_ics_that_a_reschedule_updates(
    launch: Callable[..., ServiceProcess], system_env: dict[str, str], smtp: Inbox,
) -> None:
    system_env["MASH_NOTIFY_ATTENDEE_MAILBOXES"] = json.dumps({P: ATTENDEES})
    intake, triage, strategy = launch("intake"), launch("triage"), launch("strategy")
    launch("notifications")
    reference = _refer_and_decide(intake, triage, 42, "strategy_discussion")

    def requested() -> str | None:
        r = httpx.get(f"{strategy.url}/v1/cases/{reference}/strategy-discussions",
                      headers=TM, timeout=10)
        return str(r.json()[0]["meeting_id"]) if r.status_code == 200 and r.json() else None
    url = f"{strategy.url}/v1/strategy-discussions/" + eventually_sync(
        requested, timeout=30, what="the requested discussion")

    # iCalendar times have whole seconds.
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    schedule = {"format": "video_call", "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(),
                "dial_in": "https://meet.example/strategy-w", "chair_id": "tm-w",
                "invitees": INVITEES}
    r = httpx.post(f"{url}/schedule", headers=BS, json=schedule, timeout=10)
    assert r.status_code == 200, r.text
    invited = {str(i["agency"]) for i in r.json()["schedule"]["invitees"]}
    assert {"local_authority", "health", "police"} <= invited <= set(ATTENDEES)

    first = _delivered(smtp, len(invited))
    assert sorted(to for to, _, _ in first) == sorted(ATTENDEES[a] for a in invited)
    uids = set()
    for to, subject, cal in first:
        assert str(cal["METHOD"]) == "REQUEST"
        [vevent] = cal.walk("VEVENT")
        assert str(vevent["ATTENDEE"]) == f"mailto:{to}"
        uids.add(str(vevent["UID"]))
        assert vevent.decoded("DTSTART") == starts and int(str(vevent["SEQUENCE"])) == 0
        assert reference in str(vevent["SUMMARY"]) and reference in subject
    [uid] = uids

    later = starts + timedelta(hours=2)
    r = httpx.post(f"{url}/schedule", headers=BS, timeout=10, json={
        **schedule, "starts_at": later.isoformat(),
        "ends_at": (later + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.text

    updates = _delivered(smtp, 2 * len(invited))[len(invited):]
    assert sorted(to for to, _, _ in updates) == sorted(ATTENDEES[a] for a in invited)
    for _to, subject, cal in updates:
        assert str(cal["METHOD"]) == "REQUEST"
        [vevent] = cal.walk("VEVENT")
        assert str(vevent["UID"]) == uid and int(str(vevent["SEQUENCE"])) > 0
        assert vevent.decoded("DTSTART") == later and subject.startswith("Updated:")
    assert len(_invites(smtp)) == 2 * len(invited)  # one per agency per version
