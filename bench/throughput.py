"""Benchmark: referrals/s through intake -> triage over Kafka, against raw aiokafka events/s.

Both are measured in the same run on the same broker, so the ratio says how much of the
broker's raw capability the pipeline (HTTP, validation, PostgreSQL transactions, outbox,
relay, inbox) keeps. Results are printed and written to bench/results/. Not part of make test.

    make bench                 # defaults
    .venv/bin/python -m bench.throughput --referrals 2000 --raw-events 50000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devinfra.kafka import create_topics, ensure_kafka_jars, start_kafka
from devinfra.postgres import free_port, start_postgres
from devinfra.processes import ServiceProcess
from devinfra.topics import create_service_topics
from mashcore.auth import DEFAULT_DEV_KEY, Role, issue_dev_token

RESULTS = Path(__file__).parent / "results"


def synthetic_referral(n: int) -> dict[str, Any]:
    """An invented referral (synthetic data only)."""
    return {
        "kind": "referral",
        "referrer": {"name": f"Bench Referrer {n}", "role": "School nurse",
                     "email": f"nurse{n}@example.org"},
        "children": [{"first_name": "Bench", "last_name": f"Child{n}",
                      "date_of_birth": "2014-03-03"}],
        "concern": {"summary": "Synthetic benchmark concern. " * 10},
    }


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


async def pipeline(intake: ServiceProcess, triage: ServiceProcess, referrals: int,
                   concurrency: int) -> dict[str, float]:
    """POST referrals with `concurrency` clients; time until triage holds all of them."""
    referrer = issue_dev_token(DEFAULT_DEV_KEY, subject="bench", role=Role.REFERRER,
                               agency="health")
    officer = issue_dev_token(DEFAULT_DEV_KEY, subject="bench-io",
                              role=Role.INFORMATION_OFFICER, agency="local-authority")
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(referrals):
        queue.put_nowait(n)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            n = queue.get_nowait()
            response = await client.post("/v1/contacts", json=synthetic_referral(n),
                                         headers={"Authorization": f"Bearer {referrer}",
                                                  "Idempotency-Key": f"bench-{n}"})
            response.raise_for_status()

    async def triage_count(client: httpx.AsyncClient) -> int:
        response = await client.get("/v1/cases", params={"limit": 1000},
                                    headers={"Authorization": f"Bearer {officer}"})
        return len(response.json())

    async with httpx.AsyncClient(base_url=intake.url, timeout=30) as post_client, \
            httpx.AsyncClient(base_url=triage.url, timeout=30) as read_client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(post_client) for _ in range(concurrency)))
        posted = time.perf_counter()
        deadline = posted + 300
        while await triage_count(read_client) < min(referrals, 1000):
            if time.perf_counter() > deadline:
                raise TimeoutError("triage did not receive every referral within 300 s")
            await asyncio.sleep(0.05)
        finished = time.perf_counter()
    return {
        "referrals": referrals,
        "concurrency": concurrency,
        "post_seconds": posted - started,
        "total_seconds": finished - started,
        "referrals_per_second": referrals / (finished - started),
    }


def main() -> None:
    """Run both measurements and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--referrals", type=int, default=1000,
                        help="referrals to push through (at most 1000 are counted in triage)")
    parser.add_argument("--raw-events", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    args.referrals = min(args.referrals, 1000)

    ensure_kafka_jars()
    work = Path(tempfile.mkdtemp(prefix="mash-bench-"))
    with start_kafka(work / "kafka") as broker, start_postgres(work / "pg") as pg:
        for service in ("intake", "triage"):
            pg.create_database(f"bench_{service}")
        env = {
            "MASH_BUS": "kafka",
            "MASH_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
            "MASH_DATABASE_URL_TEMPLATE": pg.url("bench_{service}"),
            "MASH_LOG_LEVEL": "WARNING",
            "MASH_DATA_DIR": str(work / "data"),
            "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
            "MASH_RATE_LIMIT_BURST": "1000000",  # measure throughput, not the limiter
        }
        payload_size = len(json.dumps(synthetic_referral(0))) + 600  # + envelope headers
        create_service_topics(broker.bootstrap_servers)  # services never create topics
        raw = asyncio.run(raw_kafka(broker.bootstrap_servers, args.raw_events, payload_size))
        with ServiceProcess("intake", free_port(), env, work / "intake.log") as intake, \
                ServiceProcess("triage", free_port(), env, work / "triage.log") as triage:
            system = asyncio.run(pipeline(intake, triage, args.referrals, args.concurrency))

    ratio = system["referrals_per_second"] / raw["events_per_second"]
    result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "raw_kafka": raw,
        "pipeline": system,
        "ratio_referrals_to_raw_events": ratio,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"throughput-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"raw aiokafka produce+consume : {raw['events_per_second']:10.1f} events/s")
    print(f"intake -> triage over Kafka  : {system['referrals_per_second']:10.1f} referrals/s")
    print(f"ratio                        : {ratio:10.4f}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
