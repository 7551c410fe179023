"""Provider verification: intake's events satisfy the pacts of their consumers.

The committed pact (``contracts/pacts/triage-intake.json``, written by triage's consumer
test) is replayed by the Pact verifier. For each interaction, the provider state it names is
set up, then intake produces the message the way it does in production: its own
``submit_contact`` command runs on a migrated SQLite file, building the event with
``intake.domain.contact_received_data`` and the handler's ``Event`` envelope. Only the step
onto the bus is replaced: what the command emits is captured and encoded with
``Event.to_message``, exactly as the outbox stores it for the relay. No message is written
by hand here.

The last test breaks the builder and checks that verification then fails, so the
verification cannot pass vacuously.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pact import Verifier
from pact.types import Message as PactMessage
from sqlalchemy.engine import Engine

import intake.domain
from intake.contacts import service as contacts
from intake.contacts.api_models import ReferralIn
from intake.service import SERVICE as INTAKE
from mashcore.auth import Principal, Role
from mashcore.clock import FrozenClock
from mashcore.db import UnitOfWork, make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.migrations import upgrade_to_head
from tests.contract.pact_support import provider_verifier
from tests.support import service_context

PACTS = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
CONSUMER_PACTS = [PACTS / "triage-intake.json", PACTS / "mash-enquiries-intake.json"]


@dataclass(frozen=True)
class ProviderState:
    """A submission intake receives, from whom, and when."""

    principal: Principal
    referral: ReferralIn
    at: datetime


def _referral(kind: str, child: dict[str, Any], summary: str) -> ReferralIn:
    return ReferralIn.model_validate({
        "kind": kind,
        "referrer": {"name": "Testreferrer", "role": "Designated safeguarding lead",
                     "email": "dsl@school.example"},
        "children": [child],
        "concern": {"summary": summary},
    })


SCHOOL = Principal(subject="pact-referrer", role=Role.REFERRER, agency="education",
                   partnership="coventry")
POLICE = Principal(subject="pact-police", role=Role.REFERRER, agency="police",
                   partnership="coventry")

# The states the consumers' pacts name. The instants differ in shape on purpose: Python's
# isoformat() writes a fraction only when there are microseconds.
PROVIDER_STATES: dict[str, ProviderState] = {
    "a referral about a named child has been received": ProviderState(
        principal=SCHOOL,
        referral=_referral(
            "referral",
            {"first_name": "Synthetic", "last_name": "Child", "date_of_birth": "2015-06-01"},
            "Synthetic concern: bruising noticed on arrival at school.",
        ),
        at=datetime(2026, 11, 23, 9, 15, 0, 123456, tzinfo=UTC),
    ),
    "a contact about a child whose identity is unknown has been received": ProviderState(
        principal=SCHOOL,
        referral=_referral(
            "contact",
            {"identity_unknown": True},
            "Synthetic concern: an unnamed child seen alone late at night.",
        ),
        at=datetime(2026, 11, 23, 16, 45, tzinfo=UTC),
    ),
    "a referral naming the family and household has been received": ProviderState(
        principal=SCHOOL,
        referral=ReferralIn.model_validate({
            "kind": "referral",
            "referrer": {"name": "Testreferrer", "role": "Designated safeguarding lead",
                         "email": "dsl@school.example"},
            "children": [{"first_name": "Synthetic", "last_name": "Child",
                          "date_of_birth": "2015-06-01"}],
            "parents_carers": [{"first_name": "Synthetic", "last_name": "Parent",
                                "relationship": "mother", "date_of_birth": "1990-02-03"}],
            "address": {"lines": ["1 Test Street"], "postcode": "CV1 2AB"},
            "concern": {"summary": "Synthetic concern: bruising noticed at school."},
        }),
        at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    ),
    "a police domestic-abuse referral without consent, with indicators ticked, has been "
    "accepted": ProviderState(
        principal=POLICE,
        referral=ReferralIn.model_validate({
            "kind": "referral",
            "referrer": {"name": "Testofficer", "role": "Detective constable",
                         "email": "dc@police.example"},
            "children": [{"first_name": "Synthetic", "last_name": "Baby",
                          "date_of_birth": "2026-06-01"}],
            "concern": {"summary": "Synthetic concern: domestic abuse incident at home."},
            "consent": {"consent_to_referral": "no", "consent_to_information_sharing": "no",
                        "reasons_if_not": "Synthetic: asking would put the mother at risk."},
            "domestic_abuse": {"flag": True, "dash_completed": True, "dash_risk_level": "high"},
            "referrer_view_of_need": {"view": "Synthetic view.", "level_code": "L4",
                                      "indicators": ["fe-domestic-abuse-high-risk"]},
        }),
        at=datetime(2026, 11, 23, 10, 5, tzinfo=UTC),
    ),
}


class Intake:
    """Intake up to the bus: its real command, with what it emits captured."""

    def __init__(self, engine: Engine, bus: EmbeddedBus) -> None:
        self._engine = engine
        self._bus = bus
        self._state: ProviderState | None = None
        self.produced: list[str] = []

    def given(self, state: str) -> None:
        """Pact's state change: an unknown state fails the interaction (KeyError)."""
        self._state = PROVIDER_STATES[state]

    def message(self, name: str) -> PactMessage:
        """The message intake publishes for the current state, as the relay would send it."""
        event_type = name.split(" ")[0]
        assert event_type.startswith("mash.intake."), f"not intake's event: {name}"
        assert self._state is not None, f"no provider state was set up for {name!r}"
        state = self._state
        ctx = service_context(self._engine, self._bus, FrozenClock(state.at), name="intake")
        published: list[Message] = []

        def to_bus(_uow: UnitOfWork, event: Event, topic: str) -> None:
            published.append(event.to_message(ctx.topics(topic)))  # as Outbox.add encodes it

        ctx.emit = to_bus  # type: ignore[method-assign,assignment]
        contacts.submit_contact(ctx, state.principal, state.referral, idempotency_key=None)
        matching = [m for m in published if m.header("ce_type") == event_type]
        assert len(matching) == 1, f"intake emitted {len(matching)} {event_type} events"
        [message] = matching
        self.produced.append(name)
        return PactMessage(
            contents=message.value,
            metadata={key: value.decode("utf-8") for key, value in message.headers},
            content_type=message.header("content-type"),
        )


@pytest.fixture
def intake_app(tmp_path: Path) -> Iterator[Intake]:
    engine = make_engine(f"sqlite:///{tmp_path / 'intake.sqlite'}")
    upgrade_to_head(engine, INTAKE.migrations)
    yield Intake(engine, EmbeddedBus(tmp_path / "bus.sqlite"))
    engine.dispose()


@pytest.fixture
def builder_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Spy on intake's builder (still calling it), to prove verification went through it."""
    real = intake.domain.contact_received_data
    calls: list[dict[str, Any]] = []

    def spy(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(intake.domain, "contact_received_data", spy)
    return calls


def verifier(intake_app: Intake) -> Verifier:
    """The Pact verifier for intake over the committed pacts, served by intake itself."""
    v = (
        provider_verifier("intake")
        .message_handler(intake_app.message)
        .state_handler(intake_app.given)
        .set_error_on_empty_pact()
    )
    for pact_file in CONSUMER_PACTS:
        v.add_source(pact_file)
    return v


def interactions_in_pacts() -> int:
    return sum(len(json.loads(p.read_text())["interactions"]) for p in CONSUMER_PACTS)


def mismatches(v: Verifier) -> list[str]:
    """Every mismatch the verifier reported, as 'path: why'."""
    return [
        f"{m.get('path') or m.get('key')}: {m.get('mismatch')}"
        for error in v.results.get("errors", [])
        for m in error.get("mismatch", {}).get("mismatches", [])
    ]


def test_the_committed_pacts_name_only_states_intake_can_set_up() -> None:
    states = {
        state["name"]
        for p in CONSUMER_PACTS
        for interaction in json.loads(p.read_text())["interactions"]
        for state in interaction.get("providerStates", [])
    }
    assert states, "the pacts name no provider state"
    assert states <= PROVIDER_STATES.keys()


def test_intake_produces_contact_received_as_its_consumers_expect(
    intake_app: Intake, builder_calls: list[dict[str, Any]]
) -> None:
    v = verifier(intake_app)
    try:
        v.verify()
    except RuntimeError:
        pytest.fail("intake breaks a consumer's pact:\n" + v.output(strip_ansi=True))

    expected = interactions_in_pacts()
    assert expected > 0
    assert len(intake_app.produced) == expected
    assert len(builder_calls) == expected, "the message was not built by intake's builder"
    assert v.results["result"] is True


def _drop_kind(real: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in real(**kwargs).items() if k != "kind"}


def _naive_received_at(real: Callable[..., dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return real(**{**kwargs, "received_at": kwargs["received_at"].replace(tzinfo=None)})


@pytest.mark.parametrize(
    ("breakage", "reported"),
    [(_drop_kind, "missing the following keys: kind"),
     (_naive_received_at, "$.received_at: Expected")],
    ids=["drops-kind", "received-at-without-offset"],
)
def test_verification_fails_when_intake_breaks_the_contract(
    intake_app: Intake,
    monkeypatch: pytest.MonkeyPatch,
    breakage: Callable[..., dict[str, Any]],
    reported: str,
) -> None:
    real = intake.domain.contact_received_data
    calls: list[dict[str, Any]] = []

    def broken(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return breakage(real, **kwargs)

    monkeypatch.setattr(intake.domain, "contact_received_data", broken)
    v = verifier(intake_app)
    with pytest.raises(RuntimeError):
        v.verify()

    assert len(calls) == interactions_in_pacts(), "the broken builder was not used"
    assert v.results["result"] is False
    found = mismatches(v)
    assert any(reported in m for m in found), found
