"""The SLA timekeeper as a real process on the real broker and PostgreSQL: stopped before its
clocks fall due, it publishes their breaches at once when it starts again, each exactly once.

The process runs on the real clock (a subprocess's clock cannot be moved), so the clocks are
due a few seconds after they start; every wait is for something to be seen, with a generous
deadline, except the wait for the due time itself to pass while the service is down.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from devinfra.processes import ServiceProcess
from mashcore.envelope import Event, parse_time
from mashcore.kafka_bus import KafkaBus
from mashcore.messages import Message
from mashcore.schemas import default_registry
from mashcore.topics import INTAKE_CONTACTS, SLA, TRIAGE_CASES
from tests.support import contact_received_event, eventually_sync

TIMEKEEPER = "sla-timekeeper"
DECIDED = "mash.triage.threshold.decided.v1"
STARTED, BREACHED = "mash.sla.clock.started.v1", "mash.sla.clock.breached.v1"
CLOCKS = 5
# From publishing the decisions to their due time: long enough for a slow two-core machine
# to consume them and stop the process first (it takes about a second or two here).
DUE_IN = timedelta(seconds=12)
DOWN_PAST_DUE = timedelta(seconds=2)  # still down this long after the due time
# Synthetic personal data that must never reach the SLA topic.
CHILD_FIRST, CHILD_LAST = "Zephyrine", "Restartington"
RATIONALE = "Synthetic rationale: Zephyrine's school reports unexplained bruising."
MANAGER = "tm-restart-e2e"


@dataclass(frozen=True)
class Seen:
    """One record on the SLA topic, decoded, with its raw bytes for the personal-data check."""

    event: Event
    raw: bytes

    @property
    def kind(self) -> str:
        return self.event.type

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.event.data)


@pytest.fixture
def timekeeper_env(system_env: dict[str, str], postgres_server: Any) -> dict[str, str]:
    """system_env with the timekeeper's database too (the template maps `sla-timekeeper` to
    `<prefix>_sla_timekeeper`)."""
    prefix = system_env["MASH_TOPIC_NAMESPACE"].removesuffix(".")
    postgres_server.create_database(f"{prefix}_sla_timekeeper")
    return system_env


def publish(bootstrap: str, topic: str, events: Sequence[Event]) -> None:
    """Publish the way the services' relay does (the project's own Kafka bus): binary-mode
    CloudEvents keyed by case reference."""

    async def send() -> None:
        bus = KafkaBus(bootstrap, client_id="test-sla-restart")
        await bus.start()
        try:
            await bus.publish([event.to_message(topic) for event in events])
        finally:
            await bus.stop()

    asyncio.run(send())


def read_all(bootstrap: str, topic: str) -> list[Seen]:
    """Everything on the topic now, from the start of every partition to its end."""

    async def read() -> list[Seen]:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        seen: list[Seen] = []

        async def take() -> None:
            for records in (await consumer.getmany(timeout_ms=100)).values():
                for r in records:
                    headers = tuple(r.headers)
                    event = Event.from_message(Message(topic, r.key, r.value, headers))
                    raw = b"".join([r.key or b"", r.value, *(v for _, v in headers)])
                    seen.append(Seen(event, raw))

        try:
            deadline = time.monotonic() + 30
            while not consumer.assignment():  # no group: every partition, once known
                assert time.monotonic() < deadline, f"{topic}: no partitions"
                await take()
            partitions = list(consumer.assignment())
            end = await consumer.end_offsets(partitions)
            while any([await consumer.position(tp) < end[tp] for tp in partitions]):
                assert time.monotonic() < deadline, f"{topic}: could not read to the end"
                await take()
            return seen
        finally:
            await consumer.stop()

    return asyncio.run(read())


def holds_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    """The opposite of eventually: ``check`` stays true for ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check(), f"no longer true: {what}"
        time.sleep(0.25)
    assert check(), f"no longer true: {what}"


def decided_event(reference: str, decided_at: datetime, due_at: datetime) -> Event:
    """A valid threshold decision routing the case to MASH enquiries, due at ``due_at``."""
    data: dict[str, Any] = {
        "case_reference": reference,
        "decided_at": decided_at.isoformat(),
        "decided_by": {"user_id": MANAGER, "role": "team_manager"},
        "level_of_need": {"code": "L4", "name": "L4 Statutory"},
        "suggested_level_of_need": None,
        "brag": "red",
        "route": "mash_enquiries",
        "rationale": RATIONALE,
        "proceeding_without_consent": False,
        "proceeding_without_consent_reason": None,
        "without_consent_basis": None,
        "consent_revisit_due_at": None,
        "enquiries_due_at": due_at.isoformat(),
    }
    default_registry().validate(DECIDED, data)
    return Event(type=DECIDED, source="/mash/test", subject=reference, time=decided_at,
                 recordedtime=decided_at, partnership="default", data=data)


def received_event(reference: str, n: int) -> Event:
    """A valid contact about a synthetic child, received now."""
    event = contact_received_event(reference, contact_id=str(uuid.uuid4()),
                                   first_name=CHILD_FIRST, last_name=f"{CHILD_LAST}{n}",
                                   summary=f"{RATIONALE} ({n})")
    at = now()
    event = replace(event, time=at, recordedtime=at,
                    data={**event.data, "received_at": at.isoformat()})
    default_registry().validate(event.type, event.data)
    return event


def new_reference() -> str:
    return f"MASH-2026-{uuid.uuid4().hex[:8].upper()}"


def now() -> datetime:
    return datetime.now(UTC)


def test_after_a_restart_every_clock_that_fell_due_while_it_was_down_breaches_once(
    launch: Callable[..., ServiceProcess], timekeeper_env: dict[str, str],
) -> None:
    bootstrap = timekeeper_env["MASH_KAFKA_BOOTSTRAP"]
    namespace = timekeeper_env["MASH_TOPIC_NAMESPACE"]
    sla, triage_topic = f"{namespace}{SLA}", f"{namespace}{TRIAGE_CASES}"

    def on_sla(kind: str, references: set[str], clock: str | None = None) -> list[Seen]:
        return [s for s in read_all(bootstrap, sla) if s.kind == kind
                and s.event.subject in references
                and (clock is None or s.data["clock"] == clock)]

    def until_on_sla(kind: str, references: set[str], clock: str | None = None, *,
                     clocks: int = 1, what: str) -> list[Seen]:
        """Wait until ``kind`` has been published for ``clocks`` distinct clocks."""
        def check() -> list[Seen] | None:
            found = on_sla(kind, references, clock)
            return found if len({s.data["clock_id"] for s in found}) >= clocks else None
        return eventually_sync(check, timeout=60, interval=0.25, what=what)

    def contacts_received(references: set[str]) -> None:
        """Each case's contact (about a synthetic child), as intake would have published it
        first; waits until its threshold_decision clock has started."""
        publish(bootstrap, f"{namespace}{INTAKE_CONTACTS}",
                [received_event(reference, n) for n, reference in enumerate(sorted(references))])
        until_on_sla(STARTED, references, "threshold_decision", clocks=len(references),
                     what="the contacts' threshold_decision clocks to start")

    timekeeper = launch(TIMEKEEPER)

    # 1. Five cases: their contacts (once those clocks have started, the consumer is reading
    # both topics), then the decisions sending them to MASH enquiries, due in a few seconds.
    references = {new_reference() for _ in range(CLOCKS)}
    contacts_received(references)
    decided_at = now()
    due = (decided_at + DUE_IN).replace(microsecond=0)
    publish(bootstrap, triage_topic,
            [decided_event(reference, decided_at, due) for reference in sorted(references)])
    started = until_on_sla(STARTED, references, "mash_enquiries", clocks=CLOCKS,
                           what=f"{CLOCKS} mash_enquiries clocks to start")
    assert len(started) == CLOCKS
    assert {s.event.subject for s in started} == references
    clock_ids = {s.data["clock_id"] for s in started}
    assert len(clock_ids) == CLOCKS
    for s in started:
        assert parse_time(s.data["due_at"]) == due
        assert parse_time(s.data["started_at"]) == decided_at

    # 2. A real stop (SIGTERM, graceful) before the due time: nothing has breached.
    timekeeper.stop()
    stopped_at = now()
    assert "service stopped" in timekeeper.log_tail(200), timekeeper.log_tail()
    assert stopped_at < due, (
        f"the timekeeper stopped {stopped_at - due} after the due time: this machine needs "
        "a larger DUE_IN for the test to mean anything")
    assert on_sla(BREACHED, references) == []

    # 3. Down until the due time has passed (the one wait on the real clock: nothing can be
    # seen happening while the service is down, which is the point); still nothing fires.
    time.sleep(max((due + DOWN_PAST_DUE - now()).total_seconds(), 0))
    assert on_sla(BREACHED, references) == []
    restarted_at = now()
    launch(TIMEKEEPER)
    until_on_sla(BREACHED, references, clocks=CLOCKS,
                 what="every clock's breach after the restart")

    # The timer has made a later pass: a sixth case, decided after those breaches and due a
    # second later, breaches too; any pass that re-fired the five would have published them
    # again by then.
    barrier = new_reference()
    contacts_received({barrier})
    barrier_decided = now()
    publish(bootstrap, triage_topic, [decided_event(barrier, barrier_decided,
                                                    barrier_decided + timedelta(seconds=1))])
    until_on_sla(BREACHED, {barrier}, what="the barrier case's breach")
    holds_for(lambda: len(on_sla(BREACHED, references)) == CLOCKS, seconds=2,
              what=f"exactly {CLOCKS} breaches")

    breached = on_sla(BREACHED, references)
    assert sorted(s.data["clock_id"] for s in breached) == sorted(clock_ids)  # once each
    for s in breached:
        data = s.data
        assert data["clock"] == "mash_enquiries"
        assert parse_time(data["due_at"]) == due
        # The breach is dated when the clock fell due, and says how late it was noticed:
        # at least as long as the service was still down after the due time.
        assert parse_time(data["breached_at"]) >= due
        assert data["overdue_by_seconds"] > 0
        assert data["overdue_by_seconds"] >= int((restarted_at - due).total_seconds())
        # Published by the restarted process, not left over from the first one.
        assert s.event.recordedtime > stopped_at

    # The restarted process published nothing else for these clocks: no second start (the
    # inbox), no late warnings (a clock already past due breaches without them).
    after_restart = [s for s in read_all(bootstrap, sla)
                     if s.data["clock_id"] in clock_ids and s.event.recordedtime > stopped_at]
    assert sorted(s.kind for s in after_restart) == [BREACHED] * CLOCKS

    # The SLA topic carries codes, ids and times only.
    everything = b"".join(s.raw for s in read_all(bootstrap, sla))
    assert all(reference.encode() in everything for reference in references)
    for personal in (CHILD_FIRST, CHILD_LAST, RATIONALE, "unexplained bruising", MANAGER):
        assert personal.encode() not in everything, personal
