"""The SLA timekeeper on the real PostgreSQL server: clocks follow the pipeline's events and
fire on their own timer, once, with no personal data on mash.sla.v1."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from mashcore.audit import AuditEntry
from mashcore.clock import FrozenClock
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.envelope import Event
from mashcore.migrations import upgrade_to_head
from mashcore.outbox import OutboxRecord
from mashcore.service import ServiceContext
from mashcore.topics import SLA
from sla_timekeeper.models import ClockRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import apply_event, event_handlers, fire_due_clocks
from tests.support import (
    auth,
    contact_received_event,
    eventually,
    service_context,
    services_on_postgres,
    synthetic_referral,
)

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 09:00
P = "coventry"
SCHOOL = auth("referrer", "education", subject="school-1", partnership=P)
TM = auth("team_manager", "local_authority", subject="tm-1", partnership=P)


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path,
                                    ["intake", "triage", "sla-timekeeper"], NOW) as running:
        yield running


async def sla_events(system: dict[str, Any], reference: str) -> list[tuple[str, dict[str, Any]]]:
    messages = await asyncio.to_thread(system["bus"]._read, f"inspect-{uuid.uuid4()}", [SLA],
                                       10000)
    return [(str(m.header("ce_type")).removeprefix("mash.sla.clock.").removesuffix(".v1"),
             json.loads(m.value)) for m in messages if m.key == reference.encode()]


async def until(system: dict[str, Any], reference: str, kind: str, clock: str,
                count: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        found = [d for k, d in await sla_events(system, reference)
                 if k == kind and d["clock"] == clock]
        return found if len(found) >= count else None
    return await eventually(check, what=f"{count} {kind} {clock}")


async def test_a_threshold_decision_clock_warns_breaches_on_its_own_and_is_met_late(
    system: dict[str, Any],
) -> None:
    body = synthetic_referral(partnership=P)
    response = await system["intake"].post("/v1/contacts", json=body, headers=SCHOOL)
    reference = response.json()["case_reference"]
    [started] = await until(system, reference, "started", "threshold_decision")
    # Coventry: one working day; Tuesday 09:00 → the end of Wednesday.
    assert started["due_at"] == "2026-11-26T00:00:00+00:00"
    assert started["duration"] == {"amount": 1, "unit": "working_days"}
    # No other traffic: the service's own timer fires as the clock moves.
    system["clock"].advance(hours=20)  # past 50 % (39 h span → 19.5 h)
    [warned] = await until(system, reference, "warned", "threshold_decision")
    assert warned["percent_elapsed"] == 50.0
    # The service was not looking between 75 % and the due time: no late warning, the breach.
    system["clock"].set(datetime(2026, 11, 26, 0, 0, 1, tzinfo=UTC))
    [breached] = await until(system, reference, "breached", "threshold_decision")
    assert breached["breached_at"] == "2026-11-26T00:00:00+00:00"
    # Decided late: met, not on time; and nothing fires twice.
    decided = await system["triage"].post(
        f"/v1/cases/{reference}/threshold-decision", headers=TM,
        json={"level_code": "L2", "brag": "green", "route": "information_and_advice",
              "rationale": "Synthetic."})
    assert decided.status_code == 200, decided.text
    [met] = await until(system, reference, "met", "threshold_decision")
    assert met["on_time"] is False
    kinds = [(k, d["clock"]) for k, d in await sla_events(system, reference)
             if d["clock"] == "threshold_decision"]
    assert [k for k, _ in kinds] == ["started", "warned", "breached", "met"]
    # The dashboard's numbers: today's breach, the met deadline, case references only.
    ops = auth("ops", "local_authority", subject="ops-1")
    summary = (await system["sla-timekeeper"].get("/v1/dashboard/summary", headers=ops)).json()
    # Two breaches: the decision, and the referrer's acknowledgement (1 working day), which
    # nothing sends until the notifications service exists.
    assert summary["today"]["breaches"] == 2 and summary["today"]["met"] == 1
    assert summary["today"]["met_on_time"] == 0
    urgent = {u["clock"]: u for u in summary["most_urgent"]
              if u["case_reference"] == reference}
    assert "threshold_decision" not in urgent  # met: no longer open
    assert urgent["referrer_outcome"]["breached"] is False
    assert (await system["sla-timekeeper"].get("/v1/dashboard/summary",
                                                headers=SCHOOL)).status_code == 403
    # Another partnership's manager counts only their own partnership's clocks.
    medway = auth("team_manager", "local_authority", subject="tm-m", partnership="medway")
    theirs = (await system["sla-timekeeper"].get("/v1/dashboard/summary",
                                                  headers=medway)).json()
    assert theirs["today"] == {"breaches": 0, "warnings": 0, "met": 0, "met_on_time": 0}
    assert theirs["most_urgent"] == [] and theirs["recent"] == []
    # Ops topics and the dashboard carry no personal data: no names, no free text.
    text = json.dumps(await sla_events(system, reference)) + json.dumps(summary)
    for secret in (body["children"][0]["last_name"], body["concern"]["summary"],
                   body["referrer"]["name"], "Synthetic."):
        assert secret not in text


@dataclass
class Timekeeper:
    """The timekeeper's database on the real PostgreSQL server, without its app: the tests
    drive its handlers and its timer themselves, as replicas would."""

    engine: Engine
    bus: EmbeddedBus
    clock: FrozenClock

    def replica(self) -> ServiceContext:
        return service_context(self.engine, self.bus, self.clock, name="sla-timekeeper")

    def consume(self, ctx: ServiceContext, *events: Event) -> None:
        """Each event in its own transaction, through the handlers the consumer calls."""
        handlers = event_handlers(ctx)
        for event in events:
            with unit_of_work(self.engine) as uow:
                handlers[event.type](event, uow)
                uow.commit()

    def published(self, event_type: str) -> list[dict[str, Any]]:
        """The data of every event of ``event_type`` in the outbox, in order."""
        with unit_of_work(self.engine) as uow:
            return [json.loads(r.payload) for r in uow.session.exec(
                select(OutboxRecord).where(OutboxRecord.event_type == event_type)
                .order_by(col(OutboxRecord.id)))]


@pytest.fixture
def timekeeper(pg_url: str, tmp_path: Path) -> Iterator[Timekeeper]:
    engine = make_engine(pg_url)
    upgrade_to_head(engine, TIMEKEEPER.migrations)
    yield Timekeeper(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW))
    engine.dispose()


def follow_up(cause: Event, event_type: str, at: datetime, **data: Any) -> Event:
    return cause.follow_up(type=event_type, source="/mash/test", time=at, recordedtime=at,
                           data=data)


def test_two_replicas_publish_each_breach_once_and_a_restart_fires_what_fell_due(
    timekeeper: Timekeeper,
) -> None:
    replicas = [timekeeper.replica() for _ in range(2)]
    timekeeper.consume(replicas[0], *(
        contact_received_event(f"MASH-2026-TW0R{i:04d}", contact_id=str(uuid.UUID(int=i + 1)))
        for i in range(150)))
    # "Down" for three days: every clock fell due; both replicas come back at once.
    timekeeper.clock.set(NOW + timedelta(days=3))
    counts: list[int] = []

    def timer(ctx: Any) -> None:  # as the service's timer loop: again while it finds work
        while fired := fire_due_clocks(ctx):
            counts.append(fired)

    threads = [threading.Thread(target=timer, args=(ctx,)) for ctx in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The contacts were received on Monday 23 November 09:00 (the sample time). By Friday
    # 09:00 the threshold decision and the acknowledgement (1 working day each) are
    # overdue, and the 5-working-day outcome (due the end of Monday 30th) is past 50 %.
    assert sum(counts) == 150 * 3
    breaches = timekeeper.published("mash.sla.clock.breached.v1")
    clocks = [b["clock_id"] for b in breaches]
    assert len(clocks) == len(set(clocks)) == 300  # each breach published exactly once
    warned = timekeeper.published("mash.sla.clock.warned.v1")
    assert len({w["clock_id"] for w in warned}) == len(warned) == 150
    assert {b["clock"] for b in breaches} == {"threshold_decision", "referrer_acknowledged"}
    assert fire_due_clocks(replicas[0]) == 0 and fire_due_clocks(replicas[1]) == 0


def test_the_national_return_start_is_stored_and_carried_by_the_clock_s_events(
    timekeeper: Timekeeper,
) -> None:
    reference = "MASH-2026-NAT10NAL"
    received = contact_received_event(reference)
    accepted = received.time + timedelta(hours=5)  # the contact became a referral later
    decided = accepted + timedelta(hours=1)
    timekeeper.consume(
        timekeeper.replica(), received,
        follow_up(received, "mash.intake.referral.accepted.v1", accepted,
                  accepted_at=accepted.isoformat()),
        follow_up(received, "mash.triage.threshold.decided.v1", decided,
                  decided_at=decided.isoformat(), route="early_help"))
    with unit_of_work(timekeeper.engine) as uow:
        [row] = uow.session.exec(select(ClockRow).where(
            ClockRow.case_reference == reference, ClockRow.clock == "threshold_decision"))
    assert (row.started_at, row.national_return_started_at) == (received.time, accepted)
    [met] = timekeeper.published("mash.sla.clock.met.v1")
    assert met["started_at"] == received.time.isoformat()
    assert met["national_return_started_at"] == accepted.isoformat()


def test_a_decision_that_overtakes_its_contact_meets_the_clock_when_the_contact_arrives(
    timekeeper: Timekeeper,
) -> None:
    received = contact_received_event("MASH-2026-0VERTAKE")
    decided = received.time + timedelta(hours=2)
    decision = follow_up(received, "mash.triage.threshold.decided.v1", decided,
                         decided_at=decided.isoformat(), route="nfa")
    # Triage's topic first, intake's later.
    timekeeper.consume(timekeeper.replica(), decision, received)
    kinds = [f"{d['clock']}:{kind}" for kind in ("started", "met")
             for d in timekeeper.published(f"mash.sla.clock.{kind}.v1")]
    with unit_of_work(timekeeper.engine) as uow:
        [clock] = uow.session.exec(select(ClockRow).where(
            ClockRow.clock == "threshold_decision", ClockRow.status == "met")).all()
    assert "threshold_decision:started" in kinds and "threshold_decision:met" in kinds
    assert clock.ended_at == decided and not clock.breached and clock.next_wake_at is None


def test_a_clock_that_cannot_be_fired_does_not_hold_up_the_others(
    timekeeper: Timekeeper,
) -> None:
    ctx = timekeeper.replica()
    timekeeper.consume(ctx, contact_received_event("MASH-2026-G00DCL0K"))
    with unit_of_work(timekeeper.engine) as uow:
        # A clock no rule knows any more (say, a pack edited wrongly), due first.
        uow.session.add(ClockRow(
            clock_id=str(uuid.uuid4()), clock="retired_clock", case_reference="MASH-2026-BADCL0CK",
            partnership="default", started_at=NOW - timedelta(days=9),
            due_at=NOW - timedelta(days=8), duration="{}", status="running",
            next_wake_at=NOW - timedelta(days=8)))
        uow.commit()
    timekeeper.clock.set(NOW + timedelta(days=3))
    assert fire_due_clocks(ctx) == 3  # the good case's two breaches and one warning
    with unit_of_work(timekeeper.engine) as uow:
        [bad] = uow.session.exec(select(ClockRow).where(ClockRow.clock == "retired_clock"))
    assert bad.next_wake_at == NOW + timedelta(days=3, minutes=1)  # tried again later


async def test_every_service_serves_prometheus_metrics_and_the_timekeeper_its_clocks(
    system: dict[str, Any],
) -> None:
    response = await system["intake"].post("/v1/contacts", json=synthetic_referral(partnership=P),
                                           headers=SCHOOL)
    reference = response.json()["case_reference"]
    await until(system, reference, "started", "threshold_decision")
    for service in ("intake", "triage", "sla-timekeeper"):
        metrics = await system[service].get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain")
        assert f'mash_outbox_unpublished{{service="{service}"}}' in metrics.text
    text = (await system["sla-timekeeper"].get("/metrics")).text
    assert ('mash_sla_open_clocks{brag="unrated",breached="false",clock="threshold_decision",'
            'partnership="coventry"} 1.0') in text
    assert 'mash_sla_events{kind="started"} 3.0' in text
    assert reference not in text


async def test_an_approved_extension_is_an_event_with_who_and_why_and_can_breach_again(
    system: dict[str, Any],
) -> None:
    response = await system["intake"].post("/v1/contacts", json=synthetic_referral(partnership=P),
                                           headers=SCHOOL)
    reference = response.json()["case_reference"]
    await until(system, reference, "started", "threshold_decision")
    listed = (await system["sla-timekeeper"].get(
        f"/v1/clocks?case_reference={reference}", headers=TM)).json()
    clock_id = next(c["clock_id"] for c in listed if c["clock"] == "threshold_decision")
    new_due = "2026-11-27T00:00:00+00:00"
    ops = auth("ops", "local_authority", subject="ops-1")
    path = f"/v1/clocks/{clock_id}/extension"
    body = {"new_due_at": new_due, "reason_code": "interpreter_required"}
    assert (await system["sla-timekeeper"].post(path, json=body, headers=ops)).status_code == 403
    other = auth("team_manager", "local_authority", subject="tm-x", partnership="medway")
    assert (await system["sla-timekeeper"].post(path, json=body, headers=other)).status_code \
        == 404
    extended = await system["sla-timekeeper"].post(path, json=body, headers=TM)
    assert extended.status_code == 200, extended.text
    [event] = await until(system, reference, "extended", "threshold_decision")
    assert (event["approved_by_role"], event["reason_code"]) == ("team_manager",
                                                                 "interpreter_required")
    assert event["previous_due_at"] == "2026-11-26T00:00:00+00:00"
    assert event["new_due_at"] == new_due
    system["clock"].set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))  # past the old due time
    await until(system, reference, "breached", "referrer_acknowledged")  # that one still due
    assert not [d for k, d in await sla_events(system, reference)
                if k == "breached" and d["clock"] == "threshold_decision"]
    system["clock"].set(datetime(2026, 11, 27, 0, 0, 1, tzinfo=UTC))
    await until(system, reference, "breached", "threshold_decision")
    bad = await system["sla-timekeeper"].post(path, headers=TM, json={
        "new_due_at": "2026-11-28T00:00:00", "reason_code": "other"})
    assert [e["field"] for e in bad.json()["errors"]] == ["new_due_at"]
    # Not an extension: a due time earlier than the current one.
    earlier = await system["sla-timekeeper"].post(path, headers=TM, json={
        "new_due_at": "2026-11-26T12:00:00+00:00", "reason_code": "other"})
    assert [e["field"] for e in earlier.json()["errors"]] == ["new_due_at"]
    # An IRO approves conference timescales, not the threshold decision's.
    iro = auth("iro", "local_authority", subject="iro-1", partnership=P)
    refused = await system["sla-timekeeper"].post(path, headers=iro, json={
        "new_due_at": "2026-11-30T00:00:00+00:00", "reason_code": "other"})
    assert refused.status_code == 403
    # Every look at a case's clocks is audited, with who looked.
    with system["ctx"]["sla-timekeeper"].unit_of_work() as uow:
        reads = uow.session.exec(select(AuditEntry).where(
            AuditEntry.resource == "sla_clock", AuditEntry.action == "read")).all()
    assert [(a.actor, a.case_reference) for a in reads] == [("tm-1", reference)]


async def test_a_storm_of_clocks_due_at_one_instant_all_fire_and_the_service_stays_up(
    system: dict[str, Any],
) -> None:
    ctx = system["ctx"]["sla-timekeeper"]
    references = [f"MASH-2026-ST0RM{i:03d}" for i in range(600)]

    def load() -> None:
        for i, reference in enumerate(references):
            with ctx.unit_of_work() as uow:
                apply_event(ctx, uow, contact_received_event(
                    reference, contact_id=str(uuid.UUID(int=10_000 + i)), partnership=P))
                uow.commit()
    await asyncio.to_thread(load)
    # Received Monday 09:00: the decision and the acknowledgement fall due at the same
    # instant, the end of Tuesday, for every case: 1,200 breaches at once.
    system["clock"].set(datetime(2026, 11, 25, 0, 0, 1, tzinfo=UTC))

    async def all_breached() -> int | None:
        assert (await system["sla-timekeeper"].get("/healthz")).status_code == 200
        messages = await asyncio.to_thread(system["bus"]._read, f"s-{uuid.uuid4()}", [SLA],
                                           100_000)
        count = sum(1 for m in messages if m.header("ce_type") == "mash.sla.clock.breached.v1")
        return count if count >= 1200 else None
    assert await eventually(all_breached, timeout=120, what="1,200 breaches") == 1200


def test_a_backlog_is_fired_in_one_batch_one_commit_for_all_its_clocks(
    timekeeper: Timekeeper,
) -> None:
    ctx = timekeeper.replica()
    timekeeper.consume(ctx, *(
        contact_received_event(f"MASH-2026-BATCH{i:03d}", contact_id=str(uuid.UUID(int=i + 7)))
        for i in range(120)))
    timekeeper.clock.set(NOW + timedelta(days=3))
    # 120 cases' two breaches and one warning each: claimed in one query, written in one
    # commit (the relay publishes them in batches), each once.
    assert fire_due_clocks(ctx) == 120 * 3
    assert fire_due_clocks(ctx) == 0
    breaches = timekeeper.published("mash.sla.clock.breached.v1")
    assert len({b["clock_id"] for b in breaches}) == len(breaches) == 240
