"""Provider verification: strategy's conference events satisfy the SLA timekeeper's,
intake's and notifications' pacts (``contracts/pacts/<consumer>-strategy.json``).

Each provider state is produced on a migrated SQLite file by strategy's own commands, as the
API runs them: the s47's ICPC (the one row set up directly, as its agreed outcome creates
it) scheduled by business support (``icpc.schedule``, which calls ``events.icpc_scheduled``)
and recorded held with a plan by its IRO (``icpc.record_held``, which calls
``events.icpc_held``); the plan's first core group scheduled and held
(``core_groups.schedule`` and ``record_held``); its first review scheduled and held
(``reviews.schedule`` and ``record_held``), continuing the plan, closing it or stepping it
down, which ends it (``plan.ended``); and each of the three meetings scheduled then
cancelled (``icpc.cancel``, ``core_groups.cancel``, ``reviews.cancel``). What they emit is
captured at the outbox and encoded as the relay does. No message is written by hand; the
last tests break the builders (``icpc_held``, ``icpc_scheduled``, the plan's end reasons)
and check verification fails.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
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
from mashcore.service import ServiceContext
from strategy.conferences import core_groups, events, icpc, reviews, rules
from strategy.conferences.models import Conference
from strategy.service import SERVICE as STRATEGY
from tests.contract.pact_support import provider_verifier
from tests.support import service_context

PACTS = Path(__file__).resolve().parents[2] / "contracts" / "pacts"
P = "default"
IRO = Principal(subject="iro-pact", role=Role.IRO, agency="local_authority", partnership=P)
TM = Principal(subject="tm-pact", role=Role.TEAM_MANAGER, agency="local_authority",
               partnership=P)
SW = Principal(subject="sw-pact", role=Role.SOCIAL_WORKER, agency="local_authority",
               partnership=P)
BS = Principal(subject="bs-pact", role=Role.BUSINESS_SUPPORT, agency="local_authority",
               partnership=P)
ICPC_INVITEES = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-pact"},
                 {"role": "practitioner", "agency": "health", "user_id": "hv-pact"},
                 {"role": "parent_or_carer"}]
CORE_GROUP = [{"role": "social_worker", "agency": "local_authority", "user_id": "sw-pact"},
              {"role": "parent_or_carer"}]
DISCUSSION_AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
ICPC_AT = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
CORE_GROUP_AT = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)
REVIEW_AT = datetime(2027, 3, 4, 10, 0, tzinfo=UTC)


def _icpc_scheduled(ctx: ServiceContext, reference: str) -> str:
    """The s47's ICPC (the row its agreed outcome creates), scheduled by business support
    with the family by role; the meeting's id."""
    meeting_id = str(uuid.uuid4())
    with unit_of_work(ctx.engine) as uow:
        uow.session.add(Conference(
            id=meeting_id, case_reference=reference, partnership=P, kind="icpc",
            conference_kind="initial", status=rules.AWAITING_SCHEDULE,
            s47_strategy_meeting_id=str(uuid.uuid4()), s47_started_at=DISCUSSION_AT,
            due_at=datetime(2026, 12, 15, 23, 59, tzinfo=UTC), child_numbers="[1]",
            created_at=DISCUSSION_AT))
        uow.commit()
    icpc.schedule(ctx, BS, meeting_id, icpc.Schedule(
        scheduled_for=ICPC_AT, chaired_by_iro=IRO.subject, invitees=ICPC_INVITEES,
        family_not_invited_reason=None))
    return meeting_id


def _icpc_held_with_a_plan(ctx: ServiceContext, clock: FrozenClock, reference: str) -> str:
    """The ICPC scheduled, then recorded held with a plan for child 1; the plan's id."""
    meeting_id = _icpc_scheduled(ctx, reference)
    clock.set(ICPC_AT + timedelta(hours=2))
    held = icpc.record_held(ctx, IRO, meeting_id, icpc.Held(
        held_at=ICPC_AT + timedelta(hours=1), attendees=CORE_GROUP, decision_summary=None,
        decisions=[{"child_number": 1, "plan": True, "category_of_abuse": ["neglect"],
                    "core_group": CORE_GROUP, "first_review_due_on": date(2027, 3, 5)}]))
    return str(held["decisions"][0]["plan_id"])


def icpc_scheduled(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    _icpc_scheduled(ctx, reference)


def core_group_scheduled(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    plan_id = _icpc_held_with_a_plan(ctx, clock, reference)
    core_groups.schedule(ctx, SW, plan_id, scheduled_for=CORE_GROUP_AT, invitees=CORE_GROUP)


def review_scheduled(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    plan_id = _icpc_held_with_a_plan(ctx, clock, reference)
    reviews.schedule(ctx, SW, plan_id, scheduled_for=REVIEW_AT, chaired_by_iro=IRO.subject,
                     invitees=CORE_GROUP)


def icpc_cancelled(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    icpc.cancel(ctx, BS, _icpc_scheduled(ctx, reference), reason="chair_unavailable")


def core_group_cancelled(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    plan_id = _icpc_held_with_a_plan(ctx, clock, reference)
    meeting = core_groups.schedule(ctx, SW, plan_id, scheduled_for=CORE_GROUP_AT,
                                   invitees=CORE_GROUP)
    core_groups.cancel(ctx, SW, meeting["meeting_id"], reason="family_unavailable")


def review_cancelled(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    plan_id = _icpc_held_with_a_plan(ctx, clock, reference)
    review = reviews.schedule(ctx, SW, plan_id, scheduled_for=REVIEW_AT,
                              chaired_by_iro=IRO.subject, invitees=CORE_GROUP)
    reviews.cancel(ctx, BS, review["meeting_id"], reason="reports_not_ready")


def icpc_with_a_plan(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    _icpc_held_with_a_plan(ctx, clock, reference)


def first_core_group(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    plan_id = _icpc_held_with_a_plan(ctx, clock, reference)
    meeting = core_groups.schedule(ctx, SW, plan_id, scheduled_for=CORE_GROUP_AT,
                                   invitees=CORE_GROUP)
    clock.set(CORE_GROUP_AT + timedelta(hours=2))
    core_groups.record_held(ctx, TM, meeting["meeting_id"], core_groups.Held(
        held_at=CORE_GROUP_AT, attendees=CORE_GROUP, action_updates=[], new_actions=[]))


def _first_review(ctx: ServiceContext, clock: FrozenClock, reference: str,
                  decision: str) -> None:
    plan_id = _icpc_held_with_a_plan(ctx, clock, reference)
    review = reviews.schedule(ctx, SW, plan_id, scheduled_for=REVIEW_AT,
                              chaired_by_iro=IRO.subject, invitees=CORE_GROUP)
    clock.set(REVIEW_AT + timedelta(hours=2))
    continuing = decision in rules.CONTINUING
    reviews.record_held(ctx, IRO, review["meeting_id"], reviews.Held(
        held_at=REVIEW_AT + timedelta(hours=1), attendees=CORE_GROUP, decision=decision,
        category_of_abuse=["neglect"] if continuing else [],
        next_review_due_on=date(2027, 9, 3) if continuing else None,
        rationale="Synthetic rationale."))


def first_review_continues(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    _first_review(ctx, clock, reference, "continue")


def plan_stepped_down(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    _first_review(ctx, clock, reference, "step_down_child_in_need")


def plan_closed(ctx: ServiceContext, clock: FrozenClock, reference: str) -> None:
    _first_review(ctx, clock, reference, "end")


STATES: dict[str, Callable[[ServiceContext, FrozenClock, str], None]] = {
    "an initial child protection conference has been held with a plan": icpc_with_a_plan,
    "a plan's first core group has been held": first_core_group,
    "a plan's first review conference has been held, continuing it": first_review_continues,
    "a review conference has ended a plan": plan_stepped_down,
    "a review conference has closed a plan": plan_closed,
    "a review conference has stepped a plan down to a child in need plan": plan_stepped_down,
    "an initial child protection conference has been scheduled": icpc_scheduled,
    "a plan's first core group has been scheduled": core_group_scheduled,
    "a plan's first review conference has been scheduled": review_scheduled,
    "an initial child protection conference has been cancelled": icpc_cancelled,
    "a plan's first core group has been cancelled": core_group_cancelled,
    "a plan's first review conference has been cancelled": review_cancelled,
}


class Strategy:
    """Strategy up to the bus: its real commands, with what they emit captured."""

    def __init__(self, engine: Engine, bus: EmbeddedBus) -> None:
        self._engine, self._bus = engine, bus
        self._state: str | None = None
        self._n = 0
        self.produced: list[str] = []

    def given(self, state: str) -> None:
        if state not in STATES:
            raise KeyError(state)
        self._state = state

    def message(self, name: str) -> PactMessage:
        event_type = name.split(" ")[0].rstrip(",")
        assert self._state is not None
        self._n += 1
        reference = f"MASH-2026-CONFS{self._n:03d}"
        clock = FrozenClock(DISCUSSION_AT)
        ctx = service_context(self._engine, self._bus, clock, name="strategy")
        published: list[Message] = []

        def to_bus(_uow: UnitOfWork, event: Event, topic: str) -> None:
            published.append(event.to_message(ctx.topics(topic)))

        ctx.emit = to_bus  # type: ignore[method-assign,assignment]
        STATES[self._state](ctx, clock, reference)
        [message] = [m for m in published if m.header("ce_type") == event_type]
        self.produced.append(name)
        return PactMessage(contents=message.value,
                           metadata={k: v.decode("utf-8") for k, v in message.headers},
                           content_type=message.header("content-type"))


@pytest.fixture
def strategy_app(tmp_path: Path) -> Iterator[Strategy]:
    engine = make_engine(f"sqlite:///{tmp_path / 'strategy.sqlite'}")
    upgrade_to_head(engine, STRATEGY.migrations)
    yield Strategy(engine, EmbeddedBus(tmp_path / "bus.sqlite"))
    engine.dispose()


def verifier(app: Strategy, consumer: str) -> Verifier:
    return (provider_verifier("strategy").message_handler(app.message).state_handler(app.given)
            .set_error_on_empty_pact().add_source(PACTS / f"{consumer}-strategy.json"))


CONSUMER_PACTS = ["sla-timekeeper", "intake", "notifications"]


@pytest.mark.parametrize("consumer", CONSUMER_PACTS)
def test_strategy_produces_the_conference_events_its_consumers_expect(
    consumer: str, strategy_app: Strategy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[str] = []
    real = events.icpc_scheduled

    def spy(*args: Any, **kwargs: Any) -> dict[str, Any]:
        built.append("icpc_scheduled")
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "icpc_scheduled", spy)
    v = verifier(strategy_app, consumer)
    try:
        v.verify()
    except RuntimeError:
        pytest.fail(f"strategy breaks {consumer}'s pact:\n" + v.output(strip_ansi=True))
    pact = json.loads((PACTS / f"{consumer}-strategy.json").read_text())
    assert len(strategy_app.produced) == len(pact["interactions"])
    # Every state starts from an ICPC scheduled by strategy's own builder.
    assert len(built) == len(pact["interactions"])
    assert v.results["result"] is True


def test_verification_fails_when_the_icpc_held_event_drops_the_plan_id(
    strategy_app: Strategy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = events.icpc_held
    monkeypatch.setattr(events, "icpc_held", lambda *a, **k: {
        key: value for key, value in real(*a, **k).items() if key != "plan_id"})
    v = verifier(strategy_app, "sla-timekeeper")
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "plan_id" in v.output(strip_ansi=True)


def test_verification_fails_when_a_closed_plan_ends_with_another_reason(
    strategy_app: Strategy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rules, "ENDING", {**rules.ENDING, "end": "closed_at_review"})
    v = verifier(strategy_app, "intake")
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "closed_at_review" in v.output(strip_ansi=True)


def test_verification_fails_when_the_icpc_invitation_drops_its_sequence(
    strategy_app: Strategy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = events.icpc_scheduled
    monkeypatch.setattr(events, "icpc_scheduled", lambda *a, **k: {
        key: value for key, value in real(*a, **k).items() if key != "sequence"})
    v = verifier(strategy_app, "notifications")
    with pytest.raises(RuntimeError):
        v.verify()
    assert v.results["result"] is False
    assert "sequence" in v.output(strip_ansi=True)
