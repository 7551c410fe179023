"""Provider verification: triage's decisions and MASH enquiries' outcomes satisfy strategy's
pacts (``contracts/pacts/strategy-{triage,mash-enquiries}.json``).

Each provider state is set up on a migrated SQLite file by the provider's own code, exactly
as a team manager's request runs it: triage's ``workflow.decide`` with route
``strategy_discussion``; MASH enquiries' episode opened by its handlers, closed early and
decided ``strategy_discussion`` by ``oversight``. What they emit is captured at the outbox
and encoded as the relay does. No message is written by hand; the last test breaks a
builder and checks verification then fails.
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
from sqlmodel import select

import triage.domain
from mash_enquiries import handlers as enquiry_handlers
from mash_enquiries import oversight
from mash_enquiries.models import Episode
from mash_enquiries.service import SERVICE as ENQUIRIES
from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.db import UnitOfWork, make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from mashcore.service import ServiceContext
from tests.contract.pact_support import provider_verifier
from tests.support import contact_received_event, service_context
from triage import workflow
from triage.handlers import event_handlers as triage_handlers
from triage.service import SERVICE as TRIAGE

PACTS = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
MANAGER = Principal(subject="tm-pact", role=Role.TEAM_MANAGER, agency="local_authority",
                    partnership="default")
RED_FOR_STRATEGY = workflow.Decision(
    level_code="L4", brag="red", route="strategy_discussion", rationale="Synthetic rationale.",
    indicators=[], consent_to_referral="given", proceeding_without_consent=False,
    without_consent_reason=None, without_consent_basis=None)


class Provider:
    """A provider up to the bus: its real commands, with what they emit captured."""

    def __init__(self, name: str, engine: Engine, bus: EmbeddedBus,
                 states: dict[str, Callable[[ServiceContext, str], None]]) -> None:
        self.name, self._engine, self._bus, self._states = name, engine, bus, states
        self._state: str | None = None
        self._n = 0
        self.produced: list[str] = []

    def given(self, state: str) -> None:
        if state not in self._states:
            raise KeyError(state)
        self._state = state

    def message(self, name: str) -> PactMessage:
        event_type = name.split(" ")[0]
        assert self._state is not None
        self._n += 1
        reference = f"MASH-2026-PACTS{self._n:03d}"
        ctx = service_context(self._engine, self._bus, FrozenClock(AT), name=self.name)
        published: list[Message] = []

        def to_bus(_uow: UnitOfWork, event: Event, topic: str) -> None:
            published.append(event.to_message(ctx.topics(topic)))

        ctx.emit = to_bus  # type: ignore[method-assign,assignment]
        self._states[self._state](ctx, reference)
        [message] = [m for m in published if m.header("ce_type") == event_type]
        self.produced.append(name)
        return PactMessage(contents=message.value,
                           metadata={k: v.decode("utf-8") for k, v in message.headers},
                           content_type=message.header("content-type"))


def _apply(ctx: ServiceContext, handler: Callable[[Event, UnitOfWork], None],
           event: Event) -> None:
    with unit_of_work(ctx.engine) as uow:
        handler(event, uow)
        uow.commit()


def decided_for_strategy(ctx: ServiceContext, reference: str) -> None:
    """Triage: a case opened from intake's contact, decided Red for a strategy discussion."""
    _apply(ctx, triage_handlers(ctx)["mash.intake.contact.received.v1"],
           contact_received_event(reference, contact_id=f"00000000-0000-4000-8000-"
                                  f"{int(reference[-3:]):012d}"))
    workflow.decide(ctx, MANAGER, reference, RED_FOR_STRATEGY)


def outcome_strategy(ctx: ServiceContext, reference: str) -> None:
    """MASH enquiries: an episode opened by a decision, closed early, decided
    strategy_discussion."""
    handle = {**enquiry_handlers.intake_handlers(ctx), **enquiry_handlers.triage_handlers(ctx)}
    _apply(ctx, handle["mash.intake.contact.received.v1"], contact_received_event(reference))
    _apply(ctx, handle["mash.triage.threshold.decided.v1"], Event(
        type="mash.triage.threshold.decided.v1", source="/mash/triage", subject=reference,
        time=AT, recordedtime=AT, partnership="default",
        data={"route": "mash_enquiries", "brag": "red", "decided_at": AT.isoformat(),
              "decided_by": {"user_id": "tm-pact", "role": "team_manager"},
              "proceeding_without_consent": False, "enquiries_due_at": None}))
    with unit_of_work(ctx.engine) as uow:
        episode_id = uow.session.exec(select(Episode.id).where(
            Episode.case_reference == reference)).one()
    oversight.close_early(ctx, MANAGER, episode_id, reason="Synthetic: the risk is clear.")
    oversight.decide_outcome(ctx, MANAGER, episode_id, outcome="strategy_discussion",
                             rationale="Synthetic rationale.", early_help_destination=None)


@pytest.fixture
def triage_app(tmp_path: Path) -> Iterator[Provider]:
    engine = make_engine(f"sqlite:///{tmp_path / 'triage.sqlite'}")
    upgrade_to_head(engine, TRIAGE.migrations)
    yield Provider("triage", engine, EmbeddedBus(tmp_path / "bus.sqlite"),
                   {"a red case has been decided for a strategy discussion":
                    decided_for_strategy})
    engine.dispose()


@pytest.fixture
def enquiries_app(tmp_path: Path) -> Iterator[Provider]:
    engine = make_engine(f"sqlite:///{tmp_path / 'enquiries.sqlite'}")
    upgrade_to_head(engine, ENQUIRIES.migrations)
    yield Provider("mash-enquiries", engine, EmbeddedBus(tmp_path / "bus.sqlite"),
                   {"an episode's outcome is a strategy discussion": outcome_strategy})
    engine.dispose()


def verifier(app: Provider) -> Verifier:
    return (provider_verifier(app.name).message_handler(app.message).state_handler(app.given)
            .set_error_on_empty_pact().add_source(PACTS / f"strategy-{app.name}.json"))


@pytest.mark.parametrize("app", ["triage_app", "enquiries_app"])
def test_each_provider_produces_what_strategy_expects(app: str,
                                                      request: pytest.FixtureRequest) -> None:
    provider: Provider = request.getfixturevalue(app)
    v = verifier(provider)
    try:
        v.verify()
    except RuntimeError:
        pytest.fail(f"{provider.name} breaks strategy's pact:\n" + v.output(strip_ansi=True))
    assert len(provider.produced) == 1
    assert v.results["result"] is True


def _no_rationale(real: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in real(**kwargs).items() if k != "rationale"}


def test_verification_fails_when_triage_drops_the_rationale(
    triage_app: Provider, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = triage.domain.threshold_decided_data
    monkeypatch.setattr(triage.domain, "threshold_decided_data",
                        lambda **kwargs: _no_rationale(real, **kwargs))
    v = verifier(triage_app)
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "rationale" in v.output(strip_ansi=True)
