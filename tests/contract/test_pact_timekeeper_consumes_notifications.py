"""Consumer pact: what the SLA timekeeper needs from notifications' outcomes (issue 16).

From ``notification.failed``: ``notification_id``, ``case_reference``, ``kind``,
``failure_reason_code``, ``failed_at`` and ``will_retry`` (false: the notice is dead and goes
on the dashboard's undelivered list); from ``notification.sent``: ``notification_id`` (a
resend delivered it: off the list), ``kind`` and ``sent_at`` (which also stop the referrer
feedback clocks). Each example is fed through the timekeeper's real consumer handlers on a
migrated SQLite file and must move the list. Passing, the pact is written to
``contracts/pacts/sla-timekeeper-notifications.json`` for notifications' verification
(``test_pact_notifications_provides_its_outcomes.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pact import Pact, match
from sqlmodel import Session, select

from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.undelivered import FAILED, SENT, UndeliveredNotice
from tests.contract.test_pact_triage_consumes_intake import (
    PACT_DIR,
    RFC3339,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import service_context

DEAD = "a referrer's acknowledgement has failed for good"
SENT_AFTER_ALL = "a referrer's acknowledgement has been sent"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
KINDS = (r"^(referrer_acknowledgement|referrer_outcome|navigator_request|navigator_chaser|"
         r"meeting_invitation|manager_alert|sla_breach_alert|consent_return|dash_request)$")
AT = "2026-11-24T10:00:00+00:00"


def _headers(event_type: str, event_id: str, reference: str) -> dict[str, Any]:
    headers = cloudevent_headers(event_id=event_id, case_reference=reference, time=AT,
                                 event_type=event_type)
    headers["ce_source"] = match.regex("/mash/notifications", regex=r"^/mash/notifications$")
    return headers


def _common(notification_id: str, reference: str) -> dict[str, Any]:
    return {"notification_id": match.uuid(notification_id),
            "case_reference": match.regex(reference, regex=r"^MASH-[0-9]{4}-[A-Z0-9]{8}$"),
            "kind": match.regex("referrer_acknowledgement", regex=KINDS)}


def notifications_pact() -> Pact:
    pact = Pact("sla-timekeeper", "notifications").with_specification("V4")
    (
        pact.upon_receiving(f"{FAILED}, not to be retried", "Async")
        .given(DEAD)
        .with_body({**_common("0b1c2d3e-4f50-4617-8283-94a5b6c7d8e9", "MASH-2026-N0T1CE01"),
                    "failure_reason_code": match.regex("no_contact_route", regex=r"^[a-z_]+$"),
                    "failed_at": match.regex(AT, regex=RFC3339),
                    "will_retry": False}, "application/json")
        .with_metadata(_headers(FAILED, "1c2d3e4f-5061-4728-9394-a5b6c7d8e9f0",
                                "MASH-2026-N0T1CE01"))
    )
    (
        pact.upon_receiving(f"{SENT}", "Async")
        .given(SENT_AFTER_ALL)
        .with_body({**_common("2d3e4f50-6172-4839-a4a5-b6c7d8e9f0a1", "MASH-2026-N0T1CE02"),
                    "sent_at": match.regex(AT, regex=RFC3339)}, "application/json")
        .with_metadata(_headers(SENT, "3e4f5061-7283-494a-b5b6-c7d8e9f0a1b2",
                                "MASH-2026-N0T1CE02"))
    )
    return pact


def test_the_timekeeper_lists_and_clears_undelivered_notices_and_writes_the_pact(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'timekeeper.sqlite'}")
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="sla-timekeeper")
    [consumer] = TIMEKEEPER.consumers
    handle = consumer.handlers(ctx)
    seen: list[str] = []

    def apply(event: Event) -> None:
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()

    def listed() -> set[str]:
        with Session(engine) as session:
            return {n.notification_id for n in session.exec(select(UndeliveredNotice))}

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        notification_id = event.data["notification_id"]
        if event.type == SENT:  # it had failed for good before this resend
            apply(Event(type=FAILED, source="/mash/notifications", subject=event.subject,
                        time=NOW, recordedtime=NOW, partnership=event.partnership,
                        data={**event.data, "failed_at": AT, "will_retry": False,
                              "failure_reason_code": "address_rejected"}))
            assert notification_id in listed()
        apply(event)
        assert (notification_id in listed()) is (event.type == FAILED)
        seen.append(event.type)

    pact = notifications_pact()
    pact.verify(consumes, "Async")
    pact.write_file(PACT_DIR, overwrite=True)
    assert sorted(seen) == sorted([FAILED, SENT])
    assert (PACT_DIR / "sla-timekeeper-notifications.json").is_file()
