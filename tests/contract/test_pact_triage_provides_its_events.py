"""Provider verification: triage's decisions satisfy MASH enquiries' pact.

For each interaction of ``contracts/pacts/mash-enquiries-triage.json`` the named state is set
up on a migrated SQLite file (a case opened from intake's contact, then decided, and for the
re-rating state re-rated), by triage's own commands (``workflow.decide``, ``workflow.re_rate``),
exactly as a team manager's request runs them. What they emit is captured at the outbox and
encoded as the relay does. No message is written by hand; the last test breaks the
builder and checks verification then fails.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier
from pact.types import Message as PactMessage
from sqlalchemy.engine import Engine

import triage.domain
from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from tests.contract.pact_support import provider_verifier
from tests.support import contact_received_event, service_context
from triage import workflow
from triage.handlers import event_handlers
from triage.service import SERVICE as TRIAGE

PACT = Path(__file__).resolve().parents[2] / "contracts" / "pacts" / "mash-enquiries-triage.json"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MANAGER = Principal(subject="tm-pact", role=Role.TEAM_MANAGER, agency="local_authority",
                    partnership="default")
AMBER_FOR_ENQUIRIES = workflow.Decision(
    level_code="L3", brag="amber", route="mash_enquiries", rationale="Synthetic rationale.",
    indicators=[], consent_to_referral="given", proceeding_without_consent=False,
    without_consent_reason=None, without_consent_basis=None)


class Triage:
    """Triage up to the bus: its real commands, with what they emit captured."""

    def __init__(self, engine: Engine, bus: EmbeddedBus) -> None:
        self._engine, self._bus = engine, bus
        self._state: str | None = None
        self._n = 0
        self.produced: list[str] = []

    def given(self, state: str) -> None:
        if state not in ("an amber case has been decided for MASH enquiries",
                         "an amber case in MASH enquiries has been re-rated red"):
            raise KeyError(state)
        self._state = state

    def message(self, name: str) -> PactMessage:
        event_type = name.split(" ")[0]
        assert self._state is not None
        self._n += 1
        reference = f"MASH-2026-PACT{self._n:04d}"
        clock = FrozenClock(AT)
        ctx = service_context(self._engine, self._bus, clock)
        with unit_of_work(self._engine) as uow:
            contact_id = f"00000000-0000-4000-8000-{self._n:012d}"
            event_handlers(ctx)["mash.intake.contact.received.v1"](
                contact_received_event(reference, contact_id=contact_id), uow)
            uow.commit()
        published: list[Message] = []

        def to_bus(_uow: UnitOfWork, event: Event, topic: str) -> None:
            published.append(event.to_message(ctx.topics(topic)))

        ctx.emit = to_bus  # type: ignore[method-assign,assignment]
        workflow.decide(ctx, MANAGER, reference, AMBER_FOR_ENQUIRIES)
        if "re-rated" in self._state:
            clock.advance(timedelta(hours=1))
            workflow.re_rate(ctx, MANAGER, reference, brag="red",
                             reason="Synthetic: new information.", route=None)
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


def test_triage_produces_its_decisions_as_mash_enquiries_expects(triage_app: Triage) -> None:
    v = verifier(triage_app)
    try:
        v.verify()
    except RuntimeError:
        pytest.fail("triage breaks MASH enquiries' pact:\n" + v.output(strip_ansi=True))
    assert len(triage_app.produced) == 2
    assert v.results["result"] is True


def _no_route(real: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in real(**kwargs).items() if k != "route"}


def test_verification_fails_when_triage_drops_the_route(
    triage_app: Triage, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = triage.domain.threshold_decided_data
    monkeypatch.setattr(triage.domain, "threshold_decided_data",
                        lambda **kwargs: _no_route(real, **kwargs))
    v = verifier(triage_app)
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "route" in v.output(strip_ansi=True)
