"""Provider verification: notifications' outcomes satisfy the SLA timekeeper's pact.

For each interaction of ``contracts/pacts/sla-timekeeper-notifications.json`` a referrer's
acknowledgement is queued on a migrated SQLite file and delivered by notifications' own
sender (``sender.send_due``): with no route to the referrer and one attempt allowed it fails
for good; with the referrer's mailbox and the ``log_only`` channel it is sent. What it emits
is captured at the outbox and encoded as the relay does. No message is written by hand; the
last test breaks the sender's event data and checks verification then fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier
from pact.types import Message as PactMessage
from sqlalchemy.engine import Engine
from sqlmodel import Session

from mashcore.clock import FrozenClock
from mashcore.db import UnitOfWork, make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from notifications import sender
from notifications.models import PENDING, Notification
from notifications.service import SERVICE as NOTIFICATIONS
from tests.contract.pact_support import provider_verifier
from tests.support import service_context

PACT = (Path(__file__).resolve().parents[2] / "contracts" / "pacts"
        / "sla-timekeeper-notifications.json")
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
STATES = {
    "a referrer's acknowledgement has failed for good": {"MASH_NOTIFY_MAX_ATTEMPTS": "1"},
    "a referrer's acknowledgement has been sent": {
        "MASH_NOTIFY_CHANNEL": "log_only",
        "MASH_NOTIFY_REFERRER_MAILBOXES": '{"*": {"education": "dsl@school.example"}}'},
}


class Notifications:
    """Notifications up to the bus: its real sender, with what it emits captured."""

    def __init__(self, engine: Engine, bus: EmbeddedBus, monkeypatch: pytest.MonkeyPatch,
                 ) -> None:
        self._engine, self._bus, self._env = engine, bus, monkeypatch
        self._n = 0
        self.produced: list[str] = []

    def given(self, state: str) -> None:
        for name in ("MASH_NOTIFY_CHANNEL", "MASH_NOTIFY_REFERRER_MAILBOXES",
                     "MASH_NOTIFY_MAX_ATTEMPTS", "MASH_NOTIFY_INTAKE_URL"):
            self._env.delenv(name, raising=False)
        for name, value in STATES[state].items():
            self._env.setenv(name, value)

    def message(self, name: str) -> PactMessage:
        event_type = name.split(" ")[0].rstrip(",")
        self._n += 1
        ctx = service_context(self._engine, self._bus, FrozenClock(AT), name="notifications")
        with Session(self._engine) as session:
            session.add(Notification(
                id=str(uuid.uuid4()), case_reference=f"MASH-2026-PACT{self._n:04d}",
                partnership="coventry", kind="referrer_acknowledgement", channel="email",
                recipient_role="referrer", recipient_agency="education",
                caused_by_event_id=str(uuid.uuid4()),
                caused_by_event_type="mash.intake.contact.received.v1", status=PENDING,
                next_attempt_at=AT, created_at=AT))
            session.commit()
        published: list[Message] = []

        def to_bus(_uow: UnitOfWork, event: Event, topic: str) -> None:
            published.append(event.to_message(ctx.topics(topic)))

        ctx.emit = to_bus  # type: ignore[method-assign,assignment]
        assert sender.send_due(ctx) == 1
        [message] = [m for m in published if m.header("ce_type") == event_type]
        self.produced.append(name)
        return PactMessage(contents=message.value,
                           metadata={k: v.decode("utf-8") for k, v in message.headers},
                           content_type=message.header("content-type"))


@pytest.fixture
def notifications_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      ) -> Iterator[Notifications]:
    engine = make_engine(f"sqlite:///{tmp_path / 'notifications.sqlite'}")
    upgrade_to_head(engine, NOTIFICATIONS.migrations)
    yield Notifications(engine, EmbeddedBus(tmp_path / "bus.sqlite"), monkeypatch)
    engine.dispose()


def verifier(app: Notifications) -> Verifier:
    return (provider_verifier("notifications").message_handler(app.message).state_handler(app.given)
            .set_error_on_empty_pact().add_source(PACT))


def test_notifications_announces_its_outcomes_as_the_timekeeper_expects(
    notifications_app: Notifications,
) -> None:
    v = verifier(notifications_app)
    try:
        v.verify()
    except RuntimeError:
        pytest.fail("notifications breaks the timekeeper's pact:\n" + v.output(strip_ansi=True))
    assert len(notifications_app.produced) == 2
    assert v.results["result"] is True


def test_verification_fails_when_the_outcome_drops_the_notification_id(
    notifications_app: Notifications, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = sender._common

    def without_id(row: Notification) -> dict[str, Any]:
        return {k: v for k, v in real(row).items() if k != "notification_id"}

    monkeypatch.setattr(sender, "_common", without_id)
    v = verifier(notifications_app)
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "notification_id" in v.output(strip_ansi=True)
