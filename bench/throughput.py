"""Benchmark: referrals/s through intake -> triage over Kafka, against raw aiokafka events/s.

Both are measured in the same run on the same broker, so the ratio says how much of the
broker's raw capability the pipeline (HTTP, validation, PostgreSQL transactions, outbox,
relay, inbox) keeps. Results are printed and written to bench/results/. Not part of make test.

The shared machine's speed drifts by a third over minutes (the same code, runs minutes apart:
146, 160, 192 referrals/s; the client's fixed CPU per request 0.50 -> 0.37 ms). So the
figures come in rounds, run in turn (raw Kafka, empty, stored; then again), each figure the
median of its rounds and each ratio the ratio of two medians: a drift weighs on both sides.
The broker is warmed up first by a raw run that is not counted.

After each round's empty run, the same intake processes take as many referrals refused before
any database work (a date of birth in the future: 422): intake's floor, the CPU a request
costs it for HTTP, the token, the body and its validation alone. With the other processes'
CPU per referral it gives the most the ratio to raw Kafka could be were intake to cost no
more than that (``bench.report.ceiling``).

    make bench                 # defaults
    .venv/bin/python -m bench.throughput --referrals 2000 --raw-events 50000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import cpu
from bench.durable import (
    bulk_load_contacts,
    make_durable,
    raw_inserts,
    synthetic_child,
    synthetic_postcode,
)
from bench.report import percentile, write_report
from devinfra.kafka import create_topics, ensure_kafka_jars, start_kafka
from devinfra.postgres import free_port, start_postgres
from devinfra.processes import ServiceProcess
from intake.service import SERVICE as INTAKE
from mashcore.auth import DEFAULT_DEV_KEY, Role, issue_dev_token
from mashcore.topics import dead_letter_topic
from triage.service import SERVICE as TRIAGE

RESULTS = Path(__file__).parent / "results"
REPEAT_WINDOW = timedelta(days=30)  # intake's default repeat window (settings)
CLIENT = "bench client"  # the bench's own CPU (its POSTs and its polls of triage's count)


def service_topics() -> list[str]:
    """Every topic intake and triage produce or consume, with the dead-letter ones: the
    services are not ready until their topics exist."""
    topics: list[str] = []
    for service in (INTAKE, TRIAGE):
        consumed = [t for spec in service.consumers for t in spec.topics]
        topics += [*service.produces, *consumed, *map(dead_letter_topic, consumed)]
    return sorted(set(topics))


def synthetic_referral(n: int) -> dict[str, Any]:
    """An invented referral about an identified child (synthetic data only), so repeat
    detection does its real work on every submission."""
    rng = random.Random(n)
    return {
        "kind": "referral",
        "referrer": {"name": f"Bench Referrer {n}", "role": "School nurse",
                     "email": f"nurse{n}@example.org"},
        "children": [synthetic_child(rng)],
        "address": {"postcode": synthetic_postcode(rng)},
        "concern": {"summary": "Synthetic benchmark concern. " * 10},
    }


async def open_loop(intakes: Sequence[ServiceProcess], rate: float, seconds: float,
                    first: int) -> dict[str, float]:
    """POST at a steady ``rate`` for ``seconds``, each at its intended time whatever the
    earlier ones are doing (no coordinated omission): latency = answer - intended time.
    The requests go to intake's replicas in turn, as a load balancer would spread them."""
    referrer = issue_dev_token(DEFAULT_DEV_KEY, subject="bench", role=Role.REFERRER,
                               agency="health")
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    # Idle connections dropped after 2 s, before uvicorn's 5 s keep-alive timeout closes
    # them: otherwise a request sent on one just as the server closes it fails with a read
    # error (the race every HTTP/1.1 client has with a server's idle timeout), which is the
    # client's doing, not the service's. Any transport error is still counted, not hidden.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64,
                          keepalive_expiry=2.0)
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(
            httpx.AsyncClient(base_url=intake.url, timeout=60, limits=limits))
            for intake in intakes]
        start = time.perf_counter() + 0.5

        async def send(i: int) -> None:
            nonlocal errors
            intended = start + i / rate
            await asyncio.sleep(max(0.0, intended - time.perf_counter()))
            n = first + i
            try:
                response = await clients[i % len(clients)].post(
                    "/v1/contacts", json=synthetic_referral(n),
                    headers={"Authorization": f"Bearer {referrer}",
                             "Idempotency-Key": f"bench-open-{n}"})
            except httpx.TransportError:
                errors += 1
                return
            latencies.append(time.perf_counter() - intended)
            if response.status_code >= 300:
                errors += 1

        await asyncio.gather(*(send(i) for i in range(total)))
        elapsed = time.perf_counter() - start
    return {"rate": rate, "seconds": seconds, "requests": total, "errors": errors,
            "achieved_per_second": total / elapsed,
            "p50_seconds": percentile(latencies, 50), "p99_seconds": percentile(latencies, 99),
            "max_seconds": max(latencies)}


async def raw_kafka(bootstrap: str, events: int, payload_size: int) -> dict[str, float]:
    """Produce then consume `events` messages with an idempotent producer (acks=all)."""
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [topic], partitions=3)
    payload = b"x" * payload_size
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True,
                                acks="all", linger_ms=5)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=f"{topic}-g",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(topic, payload, key=str(i % 500).encode())
                   for i in range(events)]
        await asyncio.gather(*futures)
        produced = time.perf_counter()
        seen = 0
        while seen < events:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                seen += len(records)
                await consumer.commit({tp: records[-1].offset + 1})
        finished = time.perf_counter()
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "events": events,
        "produce_seconds": produced - started,
        "total_seconds": finished - started,
        "events_per_second": events / (finished - started),
    }


def refused_referral(n: int) -> dict[str, Any]:
    """The bench's referral with its child's date of birth in the future: intake verifies the
    token, reads and validates the body, then answers 422 before any database work."""
    referral = synthetic_referral(n)
    referral["children"][0]["date_of_birth"] = "2099-01-01"
    return referral


async def post_all(clients: Sequence[aiohttp.ClientSession], numbers: Sequence[int],
                   concurrency: int, *, body: Callable[[int], dict[str, Any]],
                   expect: int) -> None:
    """POST ``body(n)`` for each n with ``concurrency`` clients, client k on session k mod
    sessions (one per intake replica); every answer must have the status ``expect``."""
    referrer = issue_dev_token(DEFAULT_DEV_KEY, subject="bench", role=Role.REFERRER,
                               agency="health")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in numbers:
        queue.put_nowait(n)

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            async with client.post("/v1/contacts", json=body(n),
                                   headers={"Authorization": f"Bearer {referrer}",
                                            "Idempotency-Key": f"bench-{n}"}) as response:
                await response.read()
                if response.status != expect:
                    raise RuntimeError(f"POST /v1/contacts answered {response.status}, "
                                       f"not {expect}")

    await asyncio.gather(*(worker(clients[k % len(clients)]) for k in range(concurrency)))


async def sessions(stack: contextlib.AsyncExitStack,
                   intakes: Sequence[ServiceProcess]) -> list[aiohttp.ClientSession]:
    """An aiohttp session per intake replica, closed with ``stack``."""
    return [await stack.enter_async_context(aiohttp.ClientSession(
        base_url=intake.url, timeout=aiohttp.ClientTimeout(total=30))) for intake in intakes]


async def floor(intakes: Sequence[ServiceProcess], requests: int, concurrency: int,
                first: int, cpu_groups: Mapping[str, Sequence[int]]) -> dict[str, Any]:
    """Intake's floor: CPU per request for referrals refused before any database work (a
    422 for a date of birth in the future), the same clients and processes as the closed
    loop. What a referral costs intake beyond this is its database work, its events and its
    relay; what it cannot cost less than is this (HTTP, token, body, validation, answer)."""
    async with contextlib.AsyncExitStack() as stack:
        clients = await sessions(stack, intakes)
        spent = cpu.Span(cpu_groups, own=CLIENT)
        started = time.perf_counter()
        await post_all(clients, range(first, first + requests), concurrency,
                       body=refused_referral, expect=422)
        finished = time.perf_counter()
        cpu_ms = spent.per_item_ms(requests)
    return {"requests": requests, "requests_per_second": requests / (finished - started),
            "cpu_ms_per_request": cpu_ms}


async def pipeline(intakes: Sequence[ServiceProcess], triage_conninfo: str, referrals: int,
                   concurrency: int, first: int = 0,
                   cpu_groups: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    """POST referrals with `concurrency` clients; time until triage holds all of them.

    The clients are spread over intake's replicas in turn (client k posts to replica
    k mod replicas), as a load balancer spreads connections.

    "Holds" is read where it is true: the cases triage has committed, counted in its own
    database. Asking triage's work queue instead (as the bench did before) made triage list
    and audit up to 1,000 cases every 50 ms while it was still draining the last referrals:
    the observer's load, not the pipeline's.

    With ``cpu_groups`` (process ids by name), also the milliseconds of CPU per referral each
    group and the bench client spent over the same span (``bench.cpu``)."""
    # The POSTs go through aiohttp: the client shares the two cores with what it measures,
    # and takes about a third of the CPU per request httpx takes (2.6 -> 0.9 ms).
    async with contextlib.AsyncExitStack() as stack:
        clients = await sessions(stack, intakes)
        triage = await stack.enter_async_context(
            await psycopg.AsyncConnection.connect(triage_conninfo, autocommit=True))
        expected = await triage_cases(triage) + referrals  # earlier rounds' cases too
        spent = cpu.Span(cpu_groups, own=CLIENT)
        started = time.perf_counter()
        await post_all(clients, range(first, first + referrals), concurrency,
                       body=synthetic_referral, expect=202)
        posted = time.perf_counter()
        deadline = posted + 300
        while await triage_cases(triage) < expected:
            if time.perf_counter() > deadline:
                raise TimeoutError("triage did not receive every referral within 300 s")
            await asyncio.sleep(0.05)
        finished = time.perf_counter()
        cpu_ms = spent.per_item_ms(referrals)
    return {
        "referrals": referrals,
        "concurrency": concurrency,
        "post_seconds": posted - started,
        "total_seconds": finished - started,
        "referrals_per_second": referrals / (finished - started),
        "cpu_ms_per_referral": cpu_ms,
    }


def median_cpu(rounds: Sequence[Mapping[str, Any]],
               key: str = "cpu_ms_per_referral") -> dict[str, float] | None:
    """Each process group's median CPU per item over the rounds (None: not measured)."""
    measured = [r[key] for r in rounds if r.get(key)]
    if not measured:
        return None
    return {name: statistics.median(m[name] for m in measured) for name in measured[0]}


async def triage_cases(triage: psycopg.AsyncConnection[Any]) -> int:
    """The cases triage has committed (a count of its table: nothing audited, no API)."""
    cursor = await triage.execute("SELECT count(*) FROM triage_case")
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


def main() -> None:
    """Run the measurements and write the results (JSON, Markdown, PNG)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=1000,
                        help="referrals to push through")
    parser.add_argument("--raw-events", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--intake-replicas", type=int, default=2,
                        help="intake processes (deploy/k8s/intake.yaml runs 2), the clients "
                        "spread over them")
    parser.add_argument("--stored", type=int, default=1_000_000,
                        help="contacts stored before the second throughput run (0: skip it)")
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop referrals/s")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="open-loop duration (0: skip it)")
    parser.add_argument("--raw-pg-seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of raw Kafka, empty and stored runs, alternating; each "
                        "figure is the median of its rounds")
    args = parser.parse_args()

    ensure_kafka_jars()
    work = Path(tempfile.mkdtemp(prefix="mash-bench-"))
    result: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "intake_replicas": args.intake_replicas,
        "rounds": args.rounds,
    }
    phases = [("empty", 0)] + ([("stored", args.stored)] if args.stored else [])
    raw_rounds: list[dict[str, float]] = []
    runs: dict[str, list[dict[str, Any]]] = {phase: [] for phase, _ in phases}
    floors: list[dict[str, Any]] = []  # intake's floor, after each round's empty run
    with start_kafka(work / "kafka") as broker, start_postgres(work / "pg") as pg:
        result["postgres_durability"] = make_durable(pg)
        print("PostgreSQL durability: " + ", ".join(
            f"{k}={v}" for k, v in result["postgres_durability"].items()))
        result["raw_postgres"] = raw_inserts(pg, args.raw_pg_seconds)
        payload_size = len(json.dumps(synthetic_referral(0))) + 600  # + envelope headers
        create_topics(broker.bootstrap_servers, service_topics(), partitions=3)
        for phase, _ in phases:
            for service in ("intake", "triage"):
                pg.create_database(f"bench_{phase}_{service}")
        # The broker's JVM doubles its throughput once warm (the first of three rounds, cold:
        # 9,676 and 10,653 events/s; the next: 13,878-26,208): one raw run first, not counted.
        # It may take two (warm-up 6,791, first round 9,173, then 16,968-19,455): the median
        # of the rounds absorbs a first round still cool.
        warm_up = asyncio.run(raw_kafka(broker.bootstrap_servers, args.raw_events, payload_size))
        result["raw_kafka_warm_up"] = warm_up
        print(f"warm-up: raw Kafka {warm_up['events_per_second']:,.0f} events/s (not counted)",
              flush=True)
        for round_ in range(args.rounds):
            raw_rounds.append(asyncio.run(
                raw_kafka(broker.bootstrap_servers, args.raw_events, payload_size)))
            for phase, stored in phases:
                env = {
                    "MASH_BUS": "kafka",
                    "MASH_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
                    "MASH_DATABASE_URL_TEMPLATE": pg.url(f"bench_{phase}_{{service}}"),
                    "MASH_LOG_LEVEL": "WARNING",
                    "MASH_DATA_DIR": str(work / f"data-{phase}"),
                    "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
                    "MASH_RATE_LIMIT_BURST": "1000000",  # measure throughput, not the limiter
                }
                with contextlib.ExitStack() as services:
                    intakes = [services.enter_context(ServiceProcess(
                        "intake", free_port(), env,
                        work / f"intake-{phase}-{replica}.log"))
                        for replica in range(args.intake_replicas)]
                    triage = services.enter_context(ServiceProcess(
                        "triage", free_port(), env, work / f"triage-{phase}.log"))
                    if stored and round_ == 0:
                        result["bulk_load_seconds"] = bulk_load_contacts(
                            pg, f"bench_{phase}_intake", stored, REPEAT_WINDOW)
                    groups = {"intake": [i.pid for i in intakes if i.pid],
                              "triage": [triage.pid] if triage.pid else [],
                              "PostgreSQL": [pg.pid] if pg.pid else [],
                              "Kafka": [broker.pid] if broker.pid else []}
                    runs[phase].append(asyncio.run(pipeline(
                        intakes, pg.conninfo(f"bench_{phase}_triage"), args.referrals,
                        args.concurrency, first=round_ * args.referrals, cpu_groups=groups)))
                    print(f"round {round_ + 1} {phase}: "
                          f"{runs[phase][-1]['referrals_per_second']:.1f} referrals/s "
                          f"(raw Kafka {raw_rounds[-1]['events_per_second']:,.0f} events/s)",
                          flush=True)
                    if phase == "empty":
                        floors.append(asyncio.run(floor(
                            intakes, args.referrals, args.concurrency,
                            first=20_000_000 + round_ * args.referrals, cpu_groups=groups)))
                    if phase == "empty" and round_ == 0 and args.seconds:
                        result["open_loop"] = asyncio.run(
                            open_loop(intakes, args.rate, args.seconds, first=10_000_000))

    # Each figure is the median of its rounds, and each ratio the ratio of two medians: the
    # rounds alternate (raw Kafka, empty, stored, raw Kafka, ...), so a drift in the shared
    # machine's speed over minutes weighs on both sides of a ratio alike.
    result["raw_kafka"] = {
        "events_per_second": statistics.median(r["events_per_second"] for r in raw_rounds),
        "rounds": raw_rounds}
    for phase, stored in phases:
        result["pipeline" if phase == "empty" else "pipeline_stored"] = {
            "referrals_per_second": statistics.median(
                r["referrals_per_second"] for r in runs[phase]),
            "stored_contacts": stored, "referrals": args.referrals,
            "concurrency": args.concurrency, "rounds": runs[phase],
            "cpu_ms_per_referral": median_cpu(runs[phase])}
    result["intake_floor"] = {
        "requests_per_second": statistics.median(f["requests_per_second"] for f in floors),
        "cpu_ms_per_request": median_cpu(floors, "cpu_ms_per_request"), "rounds": floors}
    system = result["pipeline"]
    result["ratio_referrals_to_raw_events"] = (
        system["referrals_per_second"] / result["raw_kafka"]["events_per_second"])
    result["ratio_referrals_to_raw_postgres_inserts"] = (
        system["referrals_per_second"] / result["raw_postgres"]["inserts_per_second"])
    if "pipeline_stored" in result:
        result["ratio_stored_to_empty"] = (result["pipeline_stored"]["referrals_per_second"]
                                           / system["referrals_per_second"])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"throughput-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    summary, chart = write_report(result, out)
    print(summary.read_text())
    print(f"written to {out}, {summary.name}, {chart.name}")


if __name__ == "__main__":
    main()
