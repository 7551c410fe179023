"""Consumer pact: what the SLA timekeeper needs from strategy's conference events.

The timekeeper's clock rules (``sla_timekeeper/defaults.py``) read, from ``icpc.held``:
``held_at``, ``conference_kind``, ``strategy_meeting_id`` and ``child_number`` (the s47's
ICPC clock, opened earlier in the test, is met), ``plan_made`` and ``plan_id`` (the plan's
first core group and first review clocks start); from ``core-group.held``: ``held_at``,
``plan_id``, ``first`` and ``meeting_id`` (the first core group clock is met, the minutes
clock starts); from ``review-conference.held``: ``held_at``, ``plan_id``, ``first`` and
``decision`` (the first review is met, the next review's clock starts); from
``plan.ended``: ``ended_at`` and ``plan_id`` (the plan's clocks are cancelled). Each example
is fed through the timekeeper's real handler on a migrated SQLite file and must move those
clocks. Passing, the pact is written to ``contracts/pacts/sla-timekeeper-strategy.json`` for
strategy's verification (``test_pact_strategy_provides_its_conference_events.py``).
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
from sla_timekeeper.models import ClockRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import event_handlers
from tests.contract.test_pact_triage_consumes_intake import (
    PACT_DIR,
    RFC3339,
    as_kafka_message,
    cloudevent_headers,
)
from tests.support import service_context

S = "mash.strategy."
ICPC_HELD = f"{S}icpc.held.v1"
CORE_GROUP_HELD = f"{S}core-group.held.v1"
REVIEW_HELD = f"{S}review-conference.held.v1"
PLAN_ENDED = f"{S}plan.ended.v1"
ICPC_WITH_A_PLAN = "an initial child protection conference has been held with a plan"
FIRST_CORE_GROUP = "a plan's first core group has been held"
FIRST_REVIEW_CONTINUES = "a plan's first review conference has been held, continuing it"
PLAN_STEPPED_DOWN = "a review conference has ended a plan"
NOW = datetime(2027, 9, 1, 12, 0, tzinfo=UTC)
PLAN_ID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
HELD_AT = "2026-12-10T11:00:00+00:00"


def _uuid(example: str) -> Any:
    return match.uuid(example)


def _headers(event_type: str, event_id: str, reference: str, time: str) -> dict[str, Any]:
    headers = cloudevent_headers(event_id=event_id, case_reference=reference, time=time,
                                 event_type=event_type)
    headers["ce_source"] = match.regex("/mash/strategy", regex=r"^/mash/strategy$")
    return headers


def icpc_held_body() -> dict[str, Any]:
    return {
        "meeting_id": _uuid("1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9"),
        "conference_kind": match.regex("initial", regex=r"^(initial|transfer_in)$"),
        "held_at": match.regex(HELD_AT, regex=RFC3339),
        "strategy_meeting_id": _uuid("2c3d4e5f-6071-4829-93a4-b5c6d7e8f901"),
        "child_number": match.integer(1),
        "plan_made": True,
        "plan_id": _uuid(PLAN_ID),
    }


def strategy_pact() -> Pact:
    pact = Pact("sla-timekeeper", "strategy").with_specification("V4")
    (
        pact.upon_receiving(f"{ICPC_HELD} with a plan", "Async")
        .given(ICPC_WITH_A_PLAN)
        .with_body(icpc_held_body(), "application/json")
        .with_metadata(_headers(ICPC_HELD, "3d4e5f60-7182-4a3b-a4b5-c6d7e8f90a1b",
                                "MASH-2026-TIMEKP01", HELD_AT))
    )
    (
        pact.upon_receiving(f"{CORE_GROUP_HELD}, the plan's first", "Async")
        .given(FIRST_CORE_GROUP)
        .with_body({
            "meeting_id": _uuid("4e5f6071-8293-4b4c-b5c6-d7e8f90a1b2c"),
            "plan_id": _uuid(PLAN_ID),
            "first": True,
            "held_at": match.regex("2026-12-17T10:00:00+00:00", regex=RFC3339),
        }, "application/json")
        .with_metadata(_headers(CORE_GROUP_HELD, "5f607182-93a4-4c5d-86d7-e8f90a1b2c3d",
                                "MASH-2026-TIMEKP02", "2026-12-17T10:00:00+00:00"))
    )
    (
        pact.upon_receiving(f"{REVIEW_HELD}, the plan's first, continuing it", "Async")
        .given(FIRST_REVIEW_CONTINUES)
        .with_body({
            "meeting_id": _uuid("60718293-a4b5-4d6e-97e8-f90a1b2c3d4e"),
            "plan_id": _uuid(PLAN_ID),
            "first": True,
            "held_at": match.regex("2027-03-04T11:00:00+00:00", regex=RFC3339),
            "decision": match.regex("continue", regex=r"^(continue|change)$"),
        }, "application/json")
        .with_metadata(_headers(REVIEW_HELD, "718293a4-b5c6-4e7f-a8f9-0a1b2c3d4e5f",
                                "MASH-2026-TIMEKP03", "2027-03-04T11:00:00+00:00"))
    )
    (
        pact.upon_receiving(f"{PLAN_ENDED} by a review conference", "Async")
        .given(PLAN_STEPPED_DOWN)
        .with_body({
            "plan_id": _uuid(PLAN_ID),
            "ended_at": match.regex("2027-03-04T11:00:00+00:00", regex=RFC3339),
        }, "application/json")
        .with_metadata(_headers(PLAN_ENDED, "8293a4b5-c6d7-4f80-b90a-1b2c3d4e5f60",
                                "MASH-2026-TIMEKP04", "2027-03-04T11:00:00+00:00"))
    )
    return pact


def _icpc_held_before(event: Event) -> Event:
    """The ICPC held with the plan the example names, earlier on the same case."""
    plan_id = event.data["plan_id"]
    held = datetime(2026, 12, 10, 11, 0, tzinfo=UTC)
    return Event(type=ICPC_HELD, source="/mash/strategy", subject=event.subject, time=held,
                 recordedtime=held, partnership=event.partnership,
                 data={"meeting_id": "00000000-0000-4000-8000-000000000001",
                       "conference_kind": "initial", "held_at": held.isoformat(),
                       "strategy_meeting_id": "00000000-0000-4000-8000-000000000002",
                       "child_number": 1, "plan_made": True, "plan_id": plan_id})


def _s47_opened_before(event: Event) -> Event:
    """The s47 enquiry the example's strategy discussion opened for its child: the ICPC
    clock the held conference meets."""
    opened = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    return Event(type=f"{S}s47-enquiry.opened.v1", source="/mash/strategy",
                 subject=event.subject, time=opened, recordedtime=opened,
                 partnership=event.partnership,
                 data={"s47_enquiry_id": "00000000-0000-4000-8000-000000000003",
                       "case_reference": event.subject,
                       "meeting_id": event.data["strategy_meeting_id"],
                       "child_number": event.data["child_number"],
                       "opened_at": opened.isoformat()})


def test_the_timekeeper_moves_the_plan_s_clocks_on_each_message_and_writes_the_pact(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'timekeeper.sqlite'}")
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="sla-timekeeper")
    handle = event_handlers(ctx)
    seen: list[str] = []

    def apply(event: Event) -> None:
        with unit_of_work(engine) as uow:
            handle[event.type](event, uow)
            uow.commit()

    def clocks(reference: str) -> dict[tuple[str, str], str]:
        with Session(engine) as session:
            return {(c.clock, c.instance): c.status for c in session.exec(
                select(ClockRow).where(ClockRow.case_reference == reference))}

    def consumes(body: str | bytes | None, metadata: dict[str, object]) -> None:
        event = Event.from_message(as_kafka_message(body, metadata))
        plan = event.data["plan_id"]
        apply(_s47_opened_before(event) if event.type == ICPC_HELD
              else _icpc_held_before(event))
        apply(event)
        found = clocks(event.subject)
        if event.type == ICPC_HELD:
            assert [status for (clock, _), status in found.items() if clock == "icpc"] == [
                "met"]
            assert found[("first_core_group", plan)] == "running"
            assert found[("first_review_conference", plan)] == "running"
        elif event.type == CORE_GROUP_HELD:
            assert found[("first_core_group", plan)] == "met"
            assert found[("core_group_minutes", event.data["meeting_id"])] == "running"
        elif event.type == REVIEW_HELD:
            assert found[("first_review_conference", plan)] == "met"
            assert found[("later_review_conference", plan)] == "running"
        else:
            assert found[("first_core_group", plan)] == "cancelled"
            assert found[("first_review_conference", plan)] == "cancelled"
        seen.append(event.type)

    pact = strategy_pact()
    pact.verify(consumes, "Async")
    pact.write_file(PACT_DIR, overwrite=True)
    assert sorted(seen) == sorted([ICPC_HELD, CORE_GROUP_HELD, REVIEW_HELD, PLAN_ENDED])
    assert (PACT_DIR / "sla-timekeeper-strategy.json").is_file()
