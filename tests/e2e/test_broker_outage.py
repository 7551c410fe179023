"""A broker outage: the service says it is not ready, logs the outage sparingly, and still
stops within 10 s (issue 13 §3)."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from devinfra.kafka import start_kafka
from devinfra.postgres import free_port
from devinfra.processes import ServiceProcess
from devinfra.topics import create_service_topics
from mashcore.auth import DEFAULT_DEV_KEY
from tests.support import eventually_sync

STOP_WITHIN_S = 10.0

def log_events(path: Path, start: int) -> list[str]:
    """The ``event`` of each JSON log line after the first ``start`` bytes."""
    with path.open("rb") as log:
        log.seek(start)
        lines = log.read().decode(errors="replace").splitlines()
    events = []
    for line in lines:
        try:
            events.append(str(json.loads(line).get("event", line)))
        except ValueError:
            events.append(line)
    return events

def test_a_service_with_its_broker_down_is_unready_logs_sparingly_and_stops_in_time(
    postgres_server: Any, tmp_path: Path
) -> None:
    broker = start_kafka(tmp_path / "kafka")  # its own broker: this test stops it
    process: ServiceProcess | None = None
    try:
        create_service_topics(broker.bootstrap_servers)
        prefix = f"o{uuid.uuid4().hex[:8]}"
        postgres_server.create_database(f"{prefix}_triage")
        env = {
            "MASH_BUS": "kafka",
            "MASH_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
            "MASH_KAFKA_HEALTH_INTERVAL": "1",
            "MASH_DATABASE_URL_TEMPLATE": postgres_server.url(f"{prefix}_{{service}}"),
            "MASH_DATA_DIR": str(tmp_path / "data"),
            "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
        }
        log_path = tmp_path / "triage.log"
        process = ServiceProcess("triage", free_port(), env, log_path).start().wait_ready()

        broker.stop()
        outage_starts = log_path.stat().st_size

        def reports_the_broker() -> list[str] | None:
            answer = httpx.get(f"{process.url}/readyz", timeout=5)
            problems = answer.json().get("problems", []) if answer.status_code == 503 else []
            return problems if any("no broker answered" in p for p in problems) else None

        eventually_sync(reports_the_broker, timeout=60, what="/readyz reporting the broker")

        # The consumer loop fails every second and aiokafka retries its connections many
        # times a second; each kind of failure is logged once (the next line would come
        # after 30 s, with a count).
        repeated = {event: n for event, n in Counter(log_events(log_path, outage_starts)).items()
                    if n > 1}
        assert repeated == {}

        assert process.pid is not None
        process_group = process.pid

        os.killpg(process_group, signal.SIGTERM)
        eventually_sync(lambda: process.returncode is not None, timeout=STOP_WITHIN_S,
                        interval=0.1, what=f"the service stopping within {STOP_WITHIN_S} s")
        assert process.returncode == 0
    finally:
        if process is not None:
            process.stop()
        broker.stop()
