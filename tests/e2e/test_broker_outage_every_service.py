"""Every service (not only one) with its broker down: /readyz names the broker, and each
stops within 10 s of SIGTERM (issue 13 §3). The six run as separate processes on one
broker, which the test stops under them."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from devinfra.kafka import start_kafka
from devinfra.postgres import free_port
from devinfra.processes import ServiceProcess
from devinfra.topics import create_service_topics
from mash_app.services import SERVICE_MODULES
from mashcore.auth import DEFAULT_DEV_KEY
from tests.support import eventually_sync

STOP_WITHIN_S = 10.0


def test_every_service_with_its_broker_down_is_unready_and_stops_in_time(
    postgres_server: Any, tmp_path: Path
) -> None:
    broker = start_kafka(tmp_path / "kafka")  # its own broker: this test stops it
    processes: dict[str, ServiceProcess] = {}
    try:
        create_service_topics(broker.bootstrap_servers)
        prefix = f"b{uuid.uuid4().hex[:8]}"
        env = {
            "MASH_BUS": "kafka",
            "MASH_KAFKA_BOOTSTRAP": broker.bootstrap_servers,
            "MASH_KAFKA_HEALTH_INTERVAL": "1",
            "MASH_DATABASE_URL_TEMPLATE": postgres_server.url(f"{prefix}_{{service}}"),
            "MASH_DATA_DIR": str(tmp_path / "data"),
            "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
        }
        for name in SERVICE_MODULES:
            postgres_server.create_database(f"{prefix}_{name.replace('-', '_')}")
            postgres_server.create_database(f"{prefix}_{name}")
            processes[name] = ServiceProcess(name, free_port(), env,
                                             tmp_path / f"{name}.log").start()
        for process in processes.values():
            process.wait_ready(timeout=120)

        broker.stop()
        for name, process in processes.items():
            def reports_the_broker(process: ServiceProcess = process) -> bool | None:
                answer = httpx.get(f"{process.url}/readyz", timeout=5)
                problems = answer.json().get("problems", []) if answer.status_code == 503 \
                    else []
                return True if any("no broker answered" in p for p in problems) else None
            eventually_sync(reports_the_broker, timeout=60, what=f"{name} /readyz")

        signalled = time.monotonic()
        for process in processes.values():
            assert process.pid is not None
            os.killpg(process.pid, signal.SIGTERM)
        took: dict[str, float] = {}
        while len(took) < len(processes) and time.monotonic() - signalled < 30:
            for name, process in processes.items():
                if name not in took and process.returncode is not None:
                    took[name] = time.monotonic() - signalled
            time.sleep(0.1)
        slow = {name: round(took.get(name, 99.0), 1) for name in processes
                if took.get(name, 99.0) > STOP_WITHIN_S}
        assert slow == {}, {n: processes[n].log_tail(15) for n in slow}
        assert {name: p.returncode for name, p in processes.items()} == dict.fromkeys(
            processes, 0)
    finally:
        for process in processes.values():
            process.stop()
        broker.stop()
