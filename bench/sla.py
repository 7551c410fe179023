"""Benchmark: the SLA timekeeper on the real broker and PostgreSQL, with the real clock.

Three measurements, each against the timekeeper running as its own process (``mash serve
sla-timekeeper``) over Kafka and PostgreSQL. An independent consumer follows the SLA topic
and notes when (wall clock) each SLA event arrives. Results are printed and written to
bench/results/; nothing here is asserted (not part of make test).

1. Breach latency: valid ``mash.triage.threshold.decided.v1`` events (route mash_enquiries,
   synthetic data) are published to the triage topic with ``enquiries_due_at`` spread over
   a window that starts after they have all been ingested. Latency = arrival of the
   ``breached`` event at the consumer - its due time (the timer wakes at the next due
   time it knows of; its 0.5 s poll only covers rows written by others, as the storm's).
2. Storm: rows for clocks all due at one instant T are written straight into ``sla_clock``
   while the service runs; time from T until the last breach arrives, and exactly-once.
3. Restart with a million pending clocks: pending rows (due in weeks) plus overdue ones are
   bulk-loaded while the service is stopped; then it starts: its RSS against the same
   service on an empty table, the table's size, the time until the last overdue breach
   arrives, and that no pending clock fired.

    make bench                 # throughput, then this with the defaults
    .venv/bin/python -m bench.sla --latency-clocks 200 --storm 1000 --pending 10000
    .venv/bin/python -m bench.sla --storm 0 --pending 0 --overdue 0   # only the latency part
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.durable import make_durable
from devinfra.kafka import create_topics, ensure_kafka_jars, start_kafka
from devinfra.postgres import PostgresServer, free_port, start_postgres
from devinfra.processes import ServiceProcess
from mashcore.auth import DEFAULT_DEV_KEY
from mashcore.envelope import Event, parse_time
from mashcore.kafka_bus import KafkaBus
from mashcore.messages import Message
from mashcore.schemas import default_registry
from mashcore.topics import SLA, TRIAGE_CASES, TopicNamer, dead_letter_topic
from sla_timekeeper.service import SERVICE
from sla_timekeeper.timekeeper import SLA_PREFIX

RESULTS = Path(__file__).parent / "results"
SERVICE_NAME = SERVICE.name  # "sla-timekeeper"; its database is <prefix>_sla_timekeeper
DECIDED = "mash.triage.threshold.decided.v1"
PARTNERSHIP = "coventry"
RED_TIMESCALE = timedelta(hours=4)  # red: enquiries within 4 hours (DOMAIN.md §8)
# Case references of each part: MASH-2026-<tag><7 digits>, so the consumer can tell them apart.
LATENCY, STORM, OVERDUE, PENDING = "L", "S", "O", "P"
COLUMNS = ("clock_id", "version", "clock", "case_reference", "instance", "partnership", "brag",
           "agency", "started_at", "national_return_started_at", "due_at", "duration",
           "status", "warned", "breached", "paused_at", "ended_at", "next_wake_at")


def reference(tag: str, n: int) -> str:
    """A synthetic case reference (schema: ^MASH-[0-9]{4}-[A-Z0-9]{8}$)."""
    return f"MASH-2026-{tag}{n:07d}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, min, p50, p90, p99, max and mean (nearest rank), in the values' unit."""
    ordered = sorted(values)
    if not ordered:
        return {"count": 0, "min": None, "p50": None, "p90": None, "p99": None, "max": None,
                "mean": None}

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {"count": len(ordered), "min": ordered[0], "p50": rank(0.50), "p90": rank(0.90),
            "p99": rank(0.99), "max": ordered[-1], "mean": sum(ordered) / len(ordered)}


def rss_kib(pid: int | None) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    if pid is None:
        return {}
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time a process has used so far (/proc/<pid>/stat)."""
    if pid is None:
        return math.nan
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    idle = ticks[3] + ticks[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


# --------------------------------------------------------------------------- the observer


@dataclass(frozen=True, slots=True)
class Received:
    """One SLA event as the bench's consumer saw it (times are Unix seconds)."""

    kind: str  # started, warned, breached, ...
    clock_id: str
    case_reference: str
    due_at: float
    recorded: float  # ce_recordedtime: when the timekeeper fired it
    produced: float  # the Kafka record's CreateTime: when the relay sent it
    arrived: float  # when this consumer received it

    @property
    def tag(self) -> str:
        return self.case_reference[10:11]


class SlaCollector:
    """Follows the SLA topic from its start in a thread of its own (its own event loop, so
    nothing the bench does in the main thread delays the arrival times)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sla-collector", daemon=True)
        self.received: list[Received] = []
        self.counts: Counter[tuple[str, str]] = Counter()  # (kind, tag) -> events

    def start(self) -> SlaCollector:
        self._thread.start()
        if not self._started.wait(60):
            raise TimeoutError("the SLA topic consumer did not start")
        if self._error is not None:
            raise RuntimeError("the SLA topic consumer failed") from self._error
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._consume())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            with self._cond:
                self._cond.notify_all()

    async def _consume(self) -> None:
        consumer = AIOKafkaConsumer(self._topic, bootstrap_servers=self._bootstrap,
                                    group_id=None, auto_offset_reset="earliest",
                                    enable_auto_commit=False, fetch_max_wait_ms=50)
        await consumer.start()
        self._started.set()
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=100, max_records=5000)
                arrived = time.time()
                new = [self._parse(record, arrived)
                       for records in batches.values() for record in records]
                if new:
                    with self._cond:
                        self.received.extend(new)
                        self.counts.update((r.kind, r.tag) for r in new)
                        self._cond.notify_all()
        finally:
            await consumer.stop()

    def _parse(self, record: Any, arrived: float) -> Received:
        event = Event.from_message(Message(self._topic, record.key, record.value,
                                           tuple(record.headers or ())))
        data = event.data
        return Received(kind=event.type.removeprefix(SLA_PREFIX).removesuffix(".v1"),
                        clock_id=data["clock_id"], case_reference=data["case_reference"],
                        due_at=parse_time(data["due_at"]).timestamp(),
                        recorded=event.recordedtime.timestamp(),
                        produced=record.timestamp / 1000, arrived=arrived)

    def wait_for(self, kind: str, tag: str, count: int, timeout: float,
                 stall: float | None = None) -> bool:
        """Until `count` events of that kind and part have arrived (True); False after
        `timeout` seconds, or after `stall` seconds without a new one."""
        deadline = time.monotonic() + timeout
        last, last_change = -1, time.monotonic()
        with self._cond:
            while True:
                if self._error is not None:
                    raise RuntimeError("the SLA topic consumer failed") from self._error
                seen = self.counts[(kind, tag)]
                if seen >= count:
                    return True
                now = time.monotonic()
                if seen != last:
                    last, last_change = seen, now
                if now >= deadline or (stall is not None and now - last_change >= stall):
                    return False
                self._cond.wait(0.5)

    def events(self, kind: str | None, tag: str) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.tag == tag and (kind is None or r.kind == kind)]


def once_each(events: Iterable[Received], expected: Iterable[str]) -> dict[str, int]:
    """How many expected clocks arrived, were missing, arrived more than once; strangers."""
    per_clock = Counter(r.clock_id for r in events)
    wanted = set(expected)
    return {
        "expected": len(wanted),
        "distinct_received": len(set(per_clock) & wanted),
        "missing": len(wanted - set(per_clock)),
        "duplicated_clocks": sum(1 for c, n in per_clock.items() if n > 1 and c in wanted),
        "duplicate_events": sum(n - 1 for c, n in per_clock.items() if n > 1 and c in wanted),
        "unexpected_clocks": len(set(per_clock) - wanted),
    }


def first_of_each(events: Iterable[Received]) -> dict[str, Received]:
    """The first arrival of each clock's event."""
    out: dict[str, Received] = {}
    for r in events:
        if r.clock_id not in out or r.arrived < out[r.clock_id].arrived:
            out[r.clock_id] = r
    return out


# --------------------------------------------------------------------------- 1. latency


def threshold_decided(n: int, due: datetime, now: datetime) -> Event:
    """A red MASH-enquiries decision (synthetic) made 4 h before its enquiries are due: its
    50 % and 75 % warnings are already owed when it arrives, so they fire at ingestion and
    only breaches happen in the measured window."""
    case = reference(LATENCY, n)
    decided = due - RED_TIMESCALE
    data = {
        "case_reference": case,
        "decided_at": decided.isoformat(),
        "decided_by": {"user_id": "bench-team-manager", "role": "team_manager"},
        "level_of_need": {"code": "L4", "name": "L4 Statutory"},
        "suggested_level_of_need": None,
        "brag": "red",
        "route": "mash_enquiries",
        "rationale": "Synthetic benchmark decision.",
        "proceeding_without_consent": False,
        "proceeding_without_consent_reason": None,
        "without_consent_basis": None,
        "consent_revisit_due_at": None,
        "enquiries_due_at": due.isoformat(),
    }
    return Event(type=DECIDED, source="/mash/triage", subject=case, time=decided,
                 recordedtime=now, partnership=PARTNERSHIP, data=data, correlationid=case)


async def publish(bootstrap: str, topic: str, events: Sequence[Event]) -> None:
    """Publish as the services' relay does (the project's own Kafka bus)."""
    bus = KafkaBus(bootstrap, client_id="bench-sla")
    await bus.start()
    try:
        await bus.publish([event.to_message(topic) for event in events])
    finally:
        await bus.stop()


async def topic_size(bootstrap: str, topic: str) -> int:
    """Messages on a topic (the sum of its partitions' end offsets), e.g. a dead-letter one."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()  # fetches the topic's metadata
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


def breach_latency(collector: SlaCollector, bootstrap: str, triage_topic: str, conninfo: str,
                   clocks: int, lead: float, window: float) -> dict[str, Any]:
    """Clocks started through the triage topic, due evenly over [T0, T0 + window]."""
    now = utcnow()
    t0 = now + timedelta(seconds=lead)
    dues = [t0 + timedelta(seconds=window * i / max(clocks - 1, 1)) for i in range(clocks)]
    events = [threshold_decided(n, due, now) for n, due in enumerate(dues)]
    registry = default_registry()
    for event in events:  # every one valid against the contract, not only the first
        registry.validate(event.type, event.data)
    published_at = time.time()
    asyncio.run(publish(bootstrap, triage_topic, events))
    publish_seconds = time.time() - published_at
    window_start = t0.timestamp()

    ingested = collector.wait_for("started", LATENCY, clocks, timeout=lead + window, stall=30)
    started = first_of_each(collector.events("started", LATENCY))
    dead = asyncio.run(topic_size(bootstrap, dead_letter_topic(triage_topic)))
    if not started:
        return {"clocks": clocks, "error": "no clock started within 30 s of the last progress: "
                "see dead_lettered and the service's log", "dead_lettered": dead,
                "publish_seconds": publish_seconds}
    collector.wait_for("warned", LATENCY, 2 * clocks, timeout=max(window_start - time.time(), 0))
    warned = collector.events("warned", LATENCY)
    last_started = max((r.arrived for r in started.values()), default=math.nan)
    last_warned = max((r.arrived for r in warned), default=math.nan)

    time.sleep(max(window_start - time.time(), 0))  # a stall counts from the window's start
    collector.wait_for("breached", LATENCY, clocks, timeout=window + 120, stall=60)
    breached = collector.events("breached", LATENCY)
    first = first_of_each(breached)
    # A clock ingested after its own due time breaches at ingestion: not a timer latency.
    late = {c for c, r in started.items() if r.arrived > r.due_at}
    sample = [r for c, r in first.items() if c not in late]
    return {
        "clocks": clocks,
        "window_seconds": window,
        "lead_seconds": lead,
        "publish_seconds": publish_seconds,
        "all_started_before_window": ingested and last_started <= window_start,
        "started_seen": len(started),
        "ingest_seconds": last_started - published_at,
        "ingest_clocks_per_second": len(started) / (last_started - published_at),
        "warnings_seen": len(warned),
        "seconds_between_last_warning_and_window": window_start - last_warned,
        "clocks_ingested_after_their_due_time": len(late),
        "dead_lettered": dead,
        "delivery": once_each(breached, started),
        "relay": relay_batches(conninfo, LATENCY),
        "latency_seconds": percentiles([r.arrived - r.due_at for r in sample]),
        "parts_seconds": {
            "due_to_fired": percentiles([r.recorded - r.due_at for r in sample]),
            "fired_to_produced": percentiles([r.produced - r.recorded for r in sample]),
            "produced_to_consumed": percentiles([r.arrived - r.produced for r in sample]),
        },
    }


# --------------------------------------------------------------------------- bulk rows


def iso(value: datetime) -> str:
    return value.isoformat()


def clock_line(tag: str, n: int, *, started: datetime, due: datetime, wake: datetime,
               warned: str) -> str:
    """One running mash_enquiries clock as a COPY text line, as the service would store it."""
    hours = round((due - started).total_seconds() / 3600, 3)
    duration = json.dumps({"amount": hours, "unit": "elapsed_hours"})
    fields = (str(uuid.uuid4()), "1", "mash_enquiries", reference(tag, n), "", PARTNERSHIP,
              "red", r"\N", iso(started), r"\N", iso(due), duration, "running", warned, "f",
              r"\N", r"\N", iso(wake))
    return "\t".join(fields) + "\n"


def copy_clocks(conninfo: str, lines: Iterable[str], chunk: int = 20_000) -> float:
    """COPY the lines into sla_clock in one transaction; returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur, \
            cur.copy(f"COPY sla_clock ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        buffer: list[str] = []
        for line in lines:
            buffer.append(line)
            if len(buffer) >= chunk:
                copy.write("".join(buffer))
                buffer.clear()
        if buffer:
            copy.write("".join(buffer))
    return time.perf_counter() - started


def relay_batches(conninfo: str, tag: str) -> dict[str, Any]:
    """How the outbox relay sent a part's breaches: the relay stamps one published_at per
    batch, so distinct stamps are batches (that carried at least one of them)."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT published_at) FROM outbox"
            " WHERE event_type = 'mash.sla.clock.breached.v1' AND key LIKE %s",
            (f"MASH-2026-{tag}%",)).fetchone()
    events, batches = (int(row[0]), int(row[1])) if row else (0, 0)
    return {"breach_events_in_outbox": events, "relay_batches_carrying_them": batches,
            "breaches_per_relay_batch": events / batches if batches else None}


def clock_ids(conninfo: str, tag: str) -> set[str]:
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT clock_id FROM sla_clock WHERE case_reference LIKE %s",
                            (f"MASH-2026-{tag}%",)).fetchall()
    return {str(row[0]) for row in rows}


# --------------------------------------------------------------------------- 2. storm


def storm(collector: SlaCollector, conninfo: str, pid: int | None, clocks: int, lead: float,
          timeout: float) -> dict[str, Any]:
    """`clocks` rows due at one instant T, inserted while the service runs."""
    due = utcnow() + timedelta(seconds=lead)
    started = due - RED_TIMESCALE
    insert_seconds = copy_clocks(conninfo, (
        clock_line(STORM, n, started=started, due=due, wake=due, warned="[0.5, 0.75]")
        for n in range(clocks)))
    t = due.timestamp()
    margin = t - time.time()
    expected = clock_ids(conninfo, STORM)
    while time.time() < t:
        time.sleep(0.01)
    cpu_before, busy_before = cpu_seconds(pid), machine_busy()
    complete = collector.wait_for("breached", STORM, clocks, timeout=lead + timeout, stall=60)
    cpu_used, busy_after = cpu_seconds(pid) - cpu_before, machine_busy()
    breached = collector.events("breached", STORM)
    first = first_of_each(breached)
    arrivals = [r.arrived - t for r in first.values()]
    fired = [r.recorded - t for r in first.values()]
    last = max(arrivals, default=math.nan)
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE breached), count(*) FROM sla_clock"
            " WHERE case_reference LIKE %s", (f"MASH-2026-{STORM}%",)).fetchone()
    marked, total = (int(row[0]), int(row[1])) if row else (0, 0)
    return {
        "relay": relay_batches(conninfo, STORM),
        "clocks": clocks,
        "insert_seconds": insert_seconds,
        "seconds_left_before_T_after_insert": margin,
        "complete": complete,
        "delivery": once_each(breached, expected),
        "rows_marked_breached": marked,
        "rows": total,
        "first_breach_after_T_seconds": min(arrivals, default=math.nan),
        "last_breach_after_T_seconds": last,
        "last_fired_after_T_seconds": max(fired, default=math.nan),
        "breaches_per_second": len(first) / last if last and last > 0 else None,
        "arrival_after_T_seconds": percentiles(arrivals),
        "fired_after_T_seconds": percentiles(fired),
        "service_cpu_seconds_from_T_to_last": cpu_used,
        "service_cpu_ms_per_breach": 1000 * cpu_used / len(first) if first else None,
        "machine_cpu_busy_share_from_T_to_last": _busy_share(busy_before, busy_after),
    }


def _busy_share(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """Share of all CPUs busy (anything on the machine) between two machine_busy()."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else None


# --------------------------------------------------------------------------- 3. restart


def table_size(conninfo: str) -> dict[str, int]:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT pg_total_relation_size('sla_clock'), pg_relation_size('sla_clock'),"
            " pg_indexes_size('sla_clock'), (SELECT count(*) FROM sla_clock)").fetchone()
    assert row is not None
    return {"total_bytes": int(row[0]), "table_bytes": int(row[1]),
            "indexes_bytes": int(row[2]), "rows": int(row[3])}


def pending_restart(bootstrap: str, pg: PostgresServer, base_env: Mapping[str, str],
                    logs: Path, pending: int, overdue: int, settle: float,
                    timeout: float) -> dict[str, Any]:
    """RSS on an empty table; then a million pending and N overdue rows loaded while the
    service is stopped; then start it and time the overdue breaches. Its own topics and
    database, so what the other parts left on the SLA topic plays no part here."""
    prefix = "bench_restart"
    conninfo = pg.conninfo(f"{prefix}_{SERVICE_NAME.replace('-', '_')}")
    pg.create_database(f"{prefix}_{SERVICE_NAME.replace('-', '_')}")
    namer = TopicNamer("bench-restart.")
    create_topics(bootstrap, service_topics(namer), partitions=3)
    env = {**base_env, "MASH_TOPIC_NAMESPACE": namer.namespace,
           "MASH_DATABASE_URL_TEMPLATE": pg.url(f"{prefix}_{{service}}")}

    # The same service, same database, empty table (this start also runs the migrations).
    empty = ServiceProcess(SERVICE_NAME, free_port(), env, logs / "restart-empty.log")
    spawned = time.time()
    with empty:
        empty_ready = time.time() - spawned
        empty_rss_ready = rss_kib(empty.pid)
        collector = SlaCollector(bootstrap, namer(SLA)).start()
        time.sleep(settle)
        empty_rss_settled = rss_kib(empty.pid)
    try:
        loaded = _loaded_restart(collector, conninfo, env, logs, pending, overdue, settle,
                                 timeout)
    finally:
        collector.stop()
    growth = (loaded["loaded_table"]["rss_kib_after_overdue_fired"].get("VmRSS", 0)
              - empty_rss_settled.get("VmRSS", 0))
    return {**loaded,
            "empty_table": {"start_to_ready_seconds": empty_ready,
                            "rss_kib_ready": empty_rss_ready,
                            "rss_kib_settled": empty_rss_settled},
            "rss_kib_loaded_after_fired_minus_empty_settled": growth}


def _loaded_restart(collector: SlaCollector, conninfo: str, env: Mapping[str, str],
                    logs: Path, pending: int, overdue: int, settle: float,
                    timeout: float) -> dict[str, Any]:
    now = utcnow()
    # Pending: started within the last day, due in 30 days, next owed the 50 % warning.
    month = timedelta(days=30)

    def pending_lines() -> Iterable[str]:
        for n in range(pending):
            started = now - timedelta(seconds=(n * 86_400) // max(pending, 1))
            yield clock_line(PENDING, n, started=started, due=started + month,
                             wake=started + month / 2, warned="[]")

    # Overdue: fell due during the last hour, while the service was down.
    def overdue_lines() -> Iterable[str]:
        for n in range(overdue):
            due = now - timedelta(seconds=1 + (n * 3600) // max(overdue, 1))
            yield clock_line(OVERDUE, n, started=due - RED_TIMESCALE, due=due, wake=due,
                             warned="[0.5, 0.75]")

    load_seconds = copy_clocks(conninfo, pending_lines())
    load_seconds += copy_clocks(conninfo, overdue_lines())
    analyze_started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("ANALYZE sla_clock")  # as autovacuum would have, long before a restart
    analyze_seconds = time.perf_counter() - analyze_started
    size = table_size(conninfo)
    expected = clock_ids(conninfo, OVERDUE)

    service = ServiceProcess(SERVICE_NAME, free_port(), env, logs / "restart-loaded.log")
    spawned = time.time()
    service.start()
    try:
        service.wait_ready(timeout=300)
        ready = time.time()
        rss_ready = rss_kib(service.pid)
        cpu_ready = cpu_seconds(service.pid)
        complete = collector.wait_for("breached", OVERDUE, overdue, timeout=timeout, stall=60)
        cpu_fired = cpu_seconds(service.pid)
        breached = collector.events("breached", OVERDUE)
        first = first_of_each(breached)
        last = max((r.arrived for r in first.values()), default=math.nan)
        rss_fired = rss_kib(service.pid)
        time.sleep(settle)  # several more timer runs: a pending clock must not fire
        rss_settled = rss_kib(service.pid)
        with psycopg.connect(conninfo) as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE breached OR warned <> '[]'"
                " OR next_wake_at <> started_at + interval '15 days'), count(*)"
                " FROM sla_clock WHERE case_reference LIKE %s",
                (f"MASH-2026-{PENDING}%",)).fetchone()
        touched, pending_rows = (int(row[0]), int(row[1])) if row else (0, 0)
    finally:
        service.stop()
    return {
        "relay": relay_batches(conninfo, OVERDUE),
        "pending": pending,
        "overdue": overdue,
        "load_seconds": load_seconds,
        "analyze_seconds": analyze_seconds,
        "sla_clock_size": size,
        "sla_clock_total_mib": size["total_bytes"] / 2**20,
        "loaded_table": {"start_to_ready_seconds": ready - spawned, "rss_kib_ready": rss_ready,
                         "rss_kib_after_overdue_fired": rss_fired,
                         "rss_kib_settled": rss_settled},
        "complete": complete,
        "delivery": once_each(breached, expected),
        "last_overdue_breach_after_process_start_seconds": last - spawned,
        "last_overdue_breach_after_ready_seconds": last - ready,
        "first_overdue_breach_after_process_start_seconds": min(
            (r.arrived for r in first.values()), default=math.nan) - spawned,
        "overdue_breaches_per_second_after_ready": (len(first) / (last - ready)
                                                    if last > ready else None),
        "service_cpu_seconds_ready_to_last": cpu_fired - cpu_ready,
        "pending_rows": pending_rows,
        "pending_rows_changed": touched,
        "pending_sla_events_seen": len(collector.events(None, PENDING)),
    }


# --------------------------------------------------------------------------- main


def service_topics(namer: TopicNamer) -> list[str]:
    """Every topic the timekeeper produces or consumes (and the dead-letter ones)."""
    consumed = [t for spec in SERVICE.consumers for t in spec.topics]
    return [namer(t) for t in [*SERVICE.produces, *consumed, *map(dead_letter_topic, consumed)]]


def summary_lines(result: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []

    def sec(value: Any) -> str:
        return "-" if value is None else f"{value:.3f}s"

    if "breach_latency" in result and "error" in result["breach_latency"]:
        part = result["breach_latency"]
        lines.append(f"breach latency: FAILED: {part['error']} "
                     f"(dead-lettered {part['dead_lettered']})")
    elif "breach_latency" in result:
        part = result["breach_latency"]
        lat = part["latency_seconds"]
        lines.append(f"breach latency ({lat['count']} clocks): p50 {sec(lat['p50'])}  "
                     f"p99 {sec(lat['p99'])}  max {sec(lat['max'])}  "
                     f"(missing {part['delivery']['missing']}, "
                     f"duplicates {part['delivery']['duplicate_events']})")
    if "storm" in result:
        part = result["storm"]
        lines.append(f"storm ({part['clocks']} due at T): last breach T+"
                     f"{sec(part['last_breach_after_T_seconds'])}, "
                     f"{part['breaches_per_second'] or 0:.0f} breaches/s "
                     f"(missing {part['delivery']['missing']}, "
                     f"duplicates {part['delivery']['duplicate_events']})")
    if "restart" in result:
        part = result["restart"]
        lines.append(
            f"restart ({part['pending']} pending + {part['overdue']} overdue): table "
            f"{part['sla_clock_total_mib']:.0f} MiB; RSS empty "
            f"{part['empty_table']['rss_kib_settled'].get('VmRSS', 0) / 1024:.0f} MiB, loaded "
            f"{part['loaded_table']['rss_kib_after_overdue_fired'].get('VmRSS', 0) / 1024:.0f}"
            f" MiB; last overdue breach {sec(part['last_overdue_breach_after_ready_seconds'])}"
            f" after ready ({sec(part['last_overdue_breach_after_process_start_seconds'])}"
            f" after start); pending fired: {part['pending_sla_events_seen']}")
    return lines


def live_parts(bootstrap: str, pg: PostgresServer, base_env: Mapping[str, str], logs: Path,
               args: argparse.Namespace, lead: float) -> dict[str, Any]:
    """Latency, then the storm, against one running service (its own topics and database)."""
    result: dict[str, Any] = {}
    database = f"bench_{SERVICE_NAME.replace('-', '_')}"
    pg.create_database(database)
    namer = TopicNamer("bench.")
    create_topics(bootstrap, service_topics(namer), partitions=3)
    env = {**base_env, "MASH_TOPIC_NAMESPACE": namer.namespace,
           "MASH_DATABASE_URL_TEMPLATE": pg.url("bench_{service}")}
    spawned = time.time()
    with ServiceProcess(SERVICE_NAME, free_port(), env, logs / "live.log") as service:
        result["service_start"] = {"start_to_ready_seconds": time.time() - spawned,
                                   "rss_kib": rss_kib(service.pid)}
        # Started once the service is up (the topics' leaders are elected by then); it reads
        # the SLA topic from its start, so it misses nothing.
        collector = SlaCollector(bootstrap, namer(SLA)).start()
        try:
            if args.latency_clocks:
                print(f"breach latency: {args.latency_clocks} clocks ...", flush=True)
                result["breach_latency"] = breach_latency(
                    collector, bootstrap, namer(TRIAGE_CASES), pg.conninfo(database),
                    args.latency_clocks, lead, args.latency_window)
            if args.storm:
                print(f"storm: {args.storm} clocks ...", flush=True)
                result["storm"] = storm(collector, pg.conninfo(database), service.pid,
                                        args.storm, args.storm_lead, args.timeout)
        finally:
            collector.stop()
        result["service_rss_kib_at_end"] = rss_kib(service.pid)
    return result


def main() -> None:
    """Run the selected measurements and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-clocks", type=int, default=2000,
                        help="clocks for the breach-latency part (0 skips it)")
    parser.add_argument("--latency-window", type=float, default=60.0,
                        help="seconds over which their due times are spread")
    parser.add_argument("--latency-lead", type=float, default=None,
                        help="seconds from publishing to the window's start (default "
                             "20 + clocks/15: the service ingests some 20-50 a second here)")
    parser.add_argument("--storm", type=int, default=10_000,
                        help="clocks due at one instant (0 skips it)")
    parser.add_argument("--storm-lead", type=float, default=8.0,
                        help="seconds from inserting the storm rows to their due time")
    parser.add_argument("--pending", type=int, default=1_000_000,
                        help="pending clocks loaded before the restart (0 with --overdue 0 "
                             "skips the part)")
    parser.add_argument("--overdue", type=int, default=10_000,
                        help="overdue clocks loaded before the restart")
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to let the service run before the later RSS readings")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="longest wait for one part's breaches (stops earlier when none "
                             "arrives for 60 s)")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the work directory (service and broker logs)")
    args = parser.parse_args()
    lead = args.latency_lead if args.latency_lead is not None else 20 + args.latency_clocks / 15

    began = time.monotonic()
    load_before = os.getloadavg()
    ensure_kafka_jars()
    work = Path(tempfile.mkdtemp(prefix="mash-bench-sla-"))
    logs = work / "logs"
    result: dict[str, Any] = {}
    failed = True
    try:
        with start_kafka(work / "kafka") as broker, start_postgres(work / "pg") as pg:
            # Production durability (devinfra's test clusters run with fsync off).
            result["postgres_durability"] = make_durable(pg)
            print("PostgreSQL durability: " + ", ".join(
                f"{k}={v}" for k, v in result["postgres_durability"].items()))
            bootstrap = broker.bootstrap_servers
            env = {
                "MASH_BUS": "kafka",
                "MASH_KAFKA_BOOTSTRAP": bootstrap,
                "MASH_LOG_LEVEL": "WARNING",
                "MASH_DATA_DIR": str(work / "data"),
                "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
            }
            if args.latency_clocks or args.storm:
                result |= live_parts(bootstrap, pg, env, logs, args, lead)
            if args.pending or args.overdue:
                print(f"restart: {args.pending} pending + {args.overdue} overdue ...",
                      flush=True)
                result["restart"] = pending_restart(bootstrap, pg, env, logs, args.pending,
                                                    args.overdue, args.settle, args.timeout)
        failed = False
    finally:
        if failed or args.keep_work:
            print(f"work directory (logs) kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    runtime = time.monotonic() - began
    out_result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": load_before, "load_average_after": os.getloadavg()},
        "arguments": {**vars(args), "latency_lead": lead},
        "code": code_version(),
        "runtime_seconds": runtime,
        **result,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"sla-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(_finite(out_result), indent=2))
    for line in summary_lines(out_result):
        print(line)
    print(f"runtime {runtime:.0f} s; written to {out}")


def code_version() -> dict[str, Any]:
    """The commit measured and the files changed since (uncommitted work changes numbers)."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root,
                                capture_output=True, text=True, timeout=10,
                                check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "changed_files": None}
    return {"commit": commit, "changed_files": [line[3:] for line in status]}


def _finite(value: Any) -> Any:
    """NaN (nothing measured) as null, so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


if __name__ == "__main__":
    main()
