"""Provider verification: triage's ``domestic-abuse.confirmed`` satisfies intake's pact.

For the interaction of ``contracts/pacts/intake-triage.json`` a case is opened on a migrated
SQLite file from intake's contact (its concern describes domestic abuse in plain words), and
an information officer confirms the suggested flag with triage's own command
(``flags.answer_domestic_abuse``), exactly as the request runs it. What it emits is captured
at the outbox and encoded as the relay does. The last test breaks the builder and checks
verification then fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier
from pact.types import Message as PactMessage
from sqlalchemy.engine import Engine

from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from tests.contract.pact_support import provider_verifier
from tests.support import contact_received_event, service_context
from triage import flags
from triage.handlers import event_handlers
from triage.service import SERVICE as TRIAGE

PACT = Path(__file__).resolve().parents[2] / "contracts" / "pacts" / "intake-triage.json"
AT = datetime(2026, 11, 24, 10, 5, tzinfo=UTC)
STATE = "hub staff have confirmed the domestic-abuse flag a concern's words suggested"
OFFICER = Principal(subject="io-pact", role=Role.INFORMATION_OFFICER, agency="local_authority",
                    partnership="coventry")


class Triage:
    """Triage up to the bus: its real command, with what it emits captured."""

    def __init__(self, engine: Engine, bus: EmbeddedBus) -> None:
        self._engine, self._bus = engine, bus
        self._n = 0
        self.produced: list[str] = []

    def given(self, state: str) -> None:
        if state != STATE:
            raise KeyError(state)

    def message(self, name: str) -> PactMessage:
        event_type = name.split(" ")[0]
        self._n += 1
        reference = f"MASH-2026-FLAG{self._n:04d}"
        ctx = service_context(self._engine, self._bus, FrozenClock(AT))
        with unit_of_work(self._engine) as uow:
            event_handlers(ctx)["mash.intake.contact.received.v1"](contact_received_event(
                reference, contact_id=f"00000000-0000-4000-8000-{self._n:012d}",
                partnership="coventry",
                summary="Synthetic: police were called to a domestic last night."), uow)
            uow.commit()
        published: list[Message] = []

        def to_bus(_uow: UnitOfWork, event: Event, topic: str) -> None:
            published.append(event.to_message(ctx.topics(topic)))

        ctx.emit = to_bus  # type: ignore[method-assign,assignment]
        flags.answer_domestic_abuse(ctx, OFFICER, reference, confirmed=True,
                                    reason="described_in_concern")
        [message] = [m for m in published if m.header("ce_type") == event_type]
        self.produced.append(name)
        return PactMessage(contents=message.value,
                           metadata={k: v.decode("utf-8") for k, v in message.headers},
                           content_type=message.header("content-type"))


@pytest.fixture
def triage_app(tmp_path: Path) -> Iterator[Triage]:
    engine = make_engine(f"sqlite:///{tmp_path / 'triage.sqlite'}")
    upgrade_to_head(engine, TRIAGE.migrations)
    yield Triage(engine, EmbeddedBus(tmp_path / "bus.sqlite"))
    engine.dispose()


def verifier(app: Triage) -> Verifier:
    return (provider_verifier("triage").message_handler(app.message).state_handler(app.given)
            .set_error_on_empty_pact().add_source(PACT))


def test_triage_confirms_the_flag_as_intake_expects(triage_app: Triage) -> None:
    v = verifier(triage_app)
    try:
        v.verify()
    except RuntimeError:
        pytest.fail("triage breaks intake's pact:\n" + v.output(strip_ansi=True))
    assert len(triage_app.produced) == 1
    assert v.results["result"] is True


def _no_one(real: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in real(**kwargs).items() if k != "confirmed_by"}


def test_verification_fails_when_triage_drops_who_confirmed(
    triage_app: Triage, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = flags.confirmed_data
    monkeypatch.setattr(flags, "confirmed_data", lambda **kwargs: _no_one(real, **kwargs))
    v = verifier(triage_app)
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "confirmed_by" in v.output(strip_ansi=True)
