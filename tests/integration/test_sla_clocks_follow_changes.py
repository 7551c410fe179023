"""Clocks follow every change (issue 13), on the real PostgreSQL server: whatever moves a
deadline announces it in an event, and the timekeeper's clock follows it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from intake.contacts.time_corrections import ContactTimeCorrection
from mashcore.audit import AuditEntry
from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event, parse_time
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.schemas import default_registry
from mashcore.topics import ENQUIRIES_EPISODES, SLA
from sla_timekeeper.models import ClockRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import event_handlers
from tests.support import (
    auth,
    eventually,
    service_context,
    services_on_postgres,
    synthetic_referral,
)

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)
POLICE = auth("navigator", "police", subject="nav-police", partnership=P)
REQUEST = "partner_information_request"


@pytest.fixture
async def pipeline(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(
            postgres_server, tmp_path,
            ["intake", "triage", "mash-enquiries", "sla-timekeeper"], NOW) as running:
        yield running


async def events_on(system: dict[str, Any], topic: str,
                    reference: str) -> list[tuple[str, dict[str, Any]]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}", [topic],
                                       10000)
    return [(str(m.header("ce_type")), json.loads(m.value)) for m in messages
            if m.key == reference.encode()]


async def sla(system: dict[str, Any], reference: str, kind: str, clock: str,
              count: int) -> list[dict[str, Any]]:
    """The ``kind`` events of ``clock`` on mash.sla.v1, once there are ``count`` of them."""
    async def check() -> list[dict[str, Any]] | None:
        found = [d for t, d in await events_on(system, SLA, reference)
                 if t == f"mash.sla.clock.{kind}.v1" and d["clock"] == clock]
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} {kind} {clock}")


async def test_re_rating_amber_to_red_moves_every_agency_s_request_clock_and_a_late_answer_is_late(
    pipeline: dict[str, Any],
) -> None:
    body = synthetic_referral(partnership=P, consent={
        "consent_to_referral": "yes", "consent_to_information_sharing": "yes"})
    response = await pipeline["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    reference = response.json()["case_reference"]

    async def decided() -> bool:
        r = await pipeline["triage"].post(
            f"/v1/cases/{reference}/threshold-decision", headers=TM,
            json={"level_code": "L4", "brag": "amber", "route": "mash_enquiries",
                  "rationale": "Synthetic."})
        return r.status_code == 200
    await eventually(decided, what="the Amber decision")
    started = await sla(pipeline, reference, "started", REQUEST, 4)
    amber_due = (NOW + timedelta(hours=24)).isoformat()
    assert {s["due_at"] for s in started} == {amber_due}

    pipeline["clock"].advance(hours=1)
    re_rated = await pipeline["triage"].post(
        f"/v1/cases/{reference}/re-rating", headers=TM,
        json={"brag": "red", "reason": "Synthetic: a weapon."})
    assert re_rated.status_code == 200, re_rated.text
    red_due = (NOW + timedelta(hours=5)).isoformat()  # Red 4 h from the re-rating
    # MASH enquiries announces each request's new deadline (contract first), and the
    # timekeeper moves each agency's clock to it.
    extended = await sla(pipeline, reference, "extended", REQUEST, 4)
    assert {(e["previous_due_at"], e["new_due_at"], e["due_at"], e["reason_code"], e["brag"])
            for e in extended} == {(amber_due, red_due, red_due, "re_rated", "red")}
    announced = [d for t, d in await events_on(pipeline, ENQUIRIES_EPISODES, reference)
                 if t == "mash.enquiries.request.deadline-changed.v1"]
    assert sorted(d["agency"] for d in announced) == ["education", "health", "police",
                                                      "probation"]
    assert {(d["previous_deadline"], d["deadline"], d["reason_code"], d["brag"])
            for d in announced} == {(amber_due, red_due, "re_rated", "red")}
    assert {e["clock_id"] for e in extended} == {s["clock_id"] for s in started}

    # Past the Red deadline: every request clock breaches, with no Amber warning.
    pipeline["clock"].set(NOW + timedelta(hours=5, minutes=1))
    breached = await sla(pipeline, reference, "breached", REQUEST, 4)
    assert {b["breached_at"] for b in breached} == {red_due}
    warned = [d for t, d in await events_on(pipeline, SLA, reference)
              if t == "mash.sla.clock.warned.v1" and d["clock"] == REQUEST]
    assert all(w["warned_at"] < red_due for w in warned)

    # Police answers an hour after the Red deadline: late, as MASH enquiries says too.
    pipeline["clock"].set(NOW + timedelta(hours=6))
    listed = (await pipeline["mash-enquiries"].get("/v1/requests", headers=POLICE)).json()
    request_id = next(r["request_id"] for r in listed if r["case_reference"] == reference)
    answered = await pipeline["mash-enquiries"].post(
        f"/v1/requests/{request_id}/answer", headers=POLICE,
        json={"known": False, "summary": "Synthetic: nothing known."})
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"]["late"] is True
    [met] = await sla(pipeline, reference, "met", REQUEST, 1)
    assert (met["agency"], met["on_time"], met["due_at"]) == ("police", False, red_due)


@pytest.fixture
def timekeeper_db(pg_url: str) -> Iterator[Engine]:
    """The timekeeper's database on the real PostgreSQL server, without its app."""
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    yield engine
    engine.dispose()


def consume(engine: Engine, tmp_path: Path, *events: Event) -> None:
    """Each event validated against its contract, then applied in its own transaction
    through the handlers the timekeeper's consumer calls."""
    ctx = service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="sla-timekeeper")
    handlers = event_handlers(ctx)
    for event in events:
        default_registry().validate(event.type, event.data)
        with unit_of_work(engine) as uow:
            handlers[event.type](event, uow)
            uow.commit()


def strategy_event(name: str, reference: str, at: datetime, **data: Any) -> Event:
    """A valid strategy event: its contract's example, with this case, time and data."""
    event_type = f"mash.strategy.{name}.v1"
    schema = json.loads((Path(__file__).parents[2] / "contracts" / "events"
                         / f"{event_type}.schema.json").read_text())
    body = {**schema["examples"][0], "case_reference": reference, **data}
    return Event(type=event_type, source="/mash/strategy", subject=reference, time=at,
                 recordedtime=at, partnership=P, data=body)


def clocks_of(engine: Engine, reference: str) -> list[ClockRow]:
    with unit_of_work(engine) as uow:
        return list(uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == reference, col(ClockRow.status) != "early_stop")
            .order_by(col(ClockRow.started_at))))


def published(engine: Engine, event_type: str) -> list[dict[str, Any]]:
    with unit_of_work(engine) as uow:
        return [json.loads(r.payload) for r in uow.session.exec(
            select(OutboxRecord).where(OutboxRecord.event_type == event_type)
            .order_by(col(OutboxRecord.id)))]


def test_a_second_s47_starts_its_own_icpc_clock_and_only_an_explicit_correction_moves_one(
    timekeeper_db: Engine, tmp_path: Path,
) -> None:
    reference = "MASH-2026-SEC0NDS4"
    m1, m2 = str(uuid.uuid4()), str(uuid.uuid4())
    first, second = NOW, NOW + timedelta(days=7)

    def held(meeting: str, at: datetime, **more: Any) -> Event:
        return strategy_event("discussion.held", reference, at, meeting_id=meeting,
                              held_at=at.isoformat(), starts_s47=True, s47_decision=True,
                              **more)

    def opened(meeting: str, at: datetime, **more: Any) -> Event:
        """The child's s47 enquiry opened at the discussion: its ICPC clock's start."""
        return strategy_event("s47-enquiry.opened", reference, at, meeting_id=meeting,
                              child_number=1, s47_enquiry_id=str(uuid.uuid4()),
                              opened_at=at.isoformat(), **more)

    original, original_s47 = held(m1, first), opened(m1, first)
    consume(timekeeper_db, tmp_path, original, original_s47, held(m2, second),
            opened(m2, second))
    icpc = [c for c in clocks_of(timekeeper_db, reference) if c.clock == "icpc"]
    assert [(c.instance, c.started_at, c.status) for c in icpc] == [
        (f"{m1}:1", first, "running"), (f"{m2}:1", second, "running")]
    assert published(timekeeper_db, "mash.sla.clock.extended.v1") == []
    # The first discussion was in fact held the day before: corrected explicitly.
    earlier = first - timedelta(days=1)
    consume(timekeeper_db, tmp_path, held(m1, earlier, corrects=original.id),
            opened(m1, earlier, corrects=original_s47.id))
    moved = published(timekeeper_db, "mash.sla.clock.extended.v1")
    assert sorted(e["clock"] for e in moved) == ["icpc", "strategy_minutes"]
    assert {e["reason_code"] for e in moved} == {"calendar_correction"}
    icpc = [c for c in clocks_of(timekeeper_db, reference) if c.clock == "icpc"]
    assert [(c.instance, c.started_at) for c in icpc] == [(f"{m1}:1", earlier),
                                                          (f"{m2}:1", second)]


def test_a_stage_2_escalation_runs_beside_stage_1_and_plan_ended_cancels_its_clocks(
    timekeeper_db: Engine, tmp_path: Path,
) -> None:
    reference = "MASH-2026-PLANENDS"
    escalation, plan = str(uuid.uuid4()), str(uuid.uuid4())
    raised = [strategy_event("escalation.raised", reference, NOW + timedelta(days=d),
                             escalation_id=escalation, stage=stage,
                             raised_at=(NOW + timedelta(days=d)).isoformat())
              for stage, d in ((1, 0), (2, 2))]
    icpc_at = NOW + timedelta(days=3)
    ended_at = NOW + timedelta(days=4)
    consume(timekeeper_db, tmp_path, *raised,
            strategy_event("icpc.held", reference, icpc_at, held_at=icpc_at.isoformat(),
                           plan_made=True, plan_id=plan),
            strategy_event("plan.ended", reference, ended_at, plan_id=plan,
                           reason="transferred_out", review_meeting_id=None,
                           ended_at=ended_at.isoformat()))
    statuses = {(c.clock, c.instance): c.status for c in clocks_of(timekeeper_db, reference)}
    assert statuses == {
        ("escalation_stage", f"{escalation}:1"): "running",
        ("escalation_stage", f"{escalation}:2"): "running",
        ("first_core_group", plan): "cancelled",
        ("first_review_conference", plan): "cancelled"}
    cancelled = published(timekeeper_db, "mash.sla.clock.cancelled.v1")
    assert {(c["clock"], c["reason_code"], c["cancelled_at"]) for c in cancelled} == {
        ("first_core_group", "plan_ended", ended_at.isoformat()),
        ("first_review_conference", "plan_ended", ended_at.isoformat())}
    with unit_of_work(timekeeper_db) as uow:
        ended = uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == reference, ClockRow.status == "cancelled")).all()
    assert all(c.next_wake_at is None for c in ended)  # the timer owes them nothing


@pytest.fixture
async def front_door(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "sla-timekeeper"], NOW) as running:
        yield running


async def test_hub_staff_record_a_phone_call_made_earlier_and_correct_its_time_and_the_clocks_move(
    front_door: dict[str, Any],
) -> None:
    intake = front_door["intake"]
    officer = auth("information_officer", "local_authority", subject="io-1", partnership=P)
    called = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday: recorded on Tuesday 10:00
    body = synthetic_referral(partnership=P, received_at=called.isoformat())
    # A partner system cannot say when its contact came in; hub staff within bounds only.
    refused = await intake.post("/v1/contacts", json=body, headers=SCHOOL)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["received_at"]
    for bad in ((NOW + timedelta(minutes=5)).isoformat(), (NOW - timedelta(days=8)).isoformat(),
                "2026-11-23T16:00:00"):
        wrong = await intake.post("/v1/contacts", headers=officer,
                                  json={**body, "received_at": bad})
        assert wrong.status_code == 422, bad
        assert "received_at" in json.dumps(wrong.json()["errors"])
    recorded = await intake.post("/v1/contacts", json=body, headers=officer)
    assert recorded.status_code == 202, recorded.text
    contact_id, reference = recorded.json()["contact_id"], recorded.json()["case_reference"]
    assert parse_time(recorded.json()["received_at"]) == called
    [started] = await sla(front_door, reference, "started", "threshold_decision", 1)
    # Coventry: one working day from Monday afternoon, the end of Tuesday.
    assert (started["started_at"], started["due_at"]) == (called.isoformat(),
                                                          "2026-11-25T00:00:00+00:00")

    # The call was in fact taken on Friday afternoon: the manager corrects it.
    friday = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    path = f"/v1/contacts/{contact_id}/time-correction"
    correction = {"received_at": friday.isoformat(), "reason_code": "wrong_time_entered",
                  "note": "Synthetic: the call log shows Friday 15:00."}
    assert (await intake.post(path, json=correction, headers=SCHOOL)).status_code == 403
    medway = auth("team_manager", "local_authority", subject="tm-m", partnership="medway")
    assert (await intake.post(path, json=correction, headers=medway)).status_code == 404
    future = await intake.post(path, headers=TM, json={
        **correction, "received_at": (NOW + timedelta(hours=1)).isoformat()})
    assert [e["field"] for e in future.json()["errors"]] == ["received_at"]
    corrected = await intake.post(path, json=correction, headers=TM)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["previous_received_at"] == called.isoformat()
    retried = await intake.post(path, json=correction, headers=TM)  # answered, not repeated
    assert retried.json() == corrected.json()
    seen = (await intake.get(f"/v1/contacts/{contact_id}", headers=TM)).json()
    assert parse_time(seen["received_at"]) == friday

    # Every clock counted from the contact moves; the decision is now overdue at once.
    extended = await sla(front_door, reference, "extended", "threshold_decision", 1)
    assert [(e["started_at"], e["previous_due_at"], e["new_due_at"], e["reason_code"])
            for e in extended] == [(friday.isoformat(), "2026-11-25T00:00:00+00:00",
                                    "2026-11-24T00:00:00+00:00", "calendar_correction")]
    [breached] = await sla(front_door, reference, "breached", "threshold_decision", 1)
    assert breached["breached_at"] == "2026-11-24T00:00:00+00:00"
    # A call a hub worker took is the public's (intake's agency `public`): no feedback is
    # owed to its caller, so no referrer feedback clock started to move (DOMAIN.md §7).
    assert not [d for _t, d in await events_on(front_door, SLA, reference)
                if d["clock"] in ("referrer_acknowledged", "referrer_outcome")]
    # Triage's queues count the decision deadline from the corrected time too.
    async def triage_due() -> str | None:
        case = (await front_door["triage"].get(f"/v1/cases/{reference}", headers=TM)).json()
        due = case.get("threshold_decision_due_at")
        return str(due) if due and parse_time(str(due)) == datetime(2026, 11, 24,
                                                                    tzinfo=UTC) else None
    await eventually(triage_due, what="the decision deadline in triage")

    # Who, in what role and why are recorded; the note never leaves intake.
    announced = [d for t, d in await events_on(front_door, "mash.intake.contacts.v1", reference)
                 if t == "mash.intake.contact.time-corrected.v1"]
    assert announced == [{
        "contact_id": contact_id, "case_reference": reference,
        "previous_received_at": called.isoformat(), "received_at": friday.isoformat(),
        "corrected_at": NOW.isoformat(), "corrected_by": {"user_id": "tm-1",
                                                          "role": "team_manager"},
        "reason_code": "wrong_time_entered"}]
    with front_door["ctx"]["intake"].unit_of_work() as uow:
        [row] = uow.session.exec(select(ContactTimeCorrection)).all()
        writes = uow.session.exec(select(AuditEntry).where(
            AuditEntry.resource == "contact_time")).all()
    assert (row.corrected_by, row.corrected_by_role, row.reason_code, row.note) == (
        "tm-1", "team_manager", "wrong_time_entered", correction["note"])
    assert [(a.actor, a.role, a.action, a.case_reference) for a in writes] == [
        ("tm-1", "team_manager", "write", reference)]
