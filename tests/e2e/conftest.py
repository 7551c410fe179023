"""E2E fixtures: services as separate processes on the real broker and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devinfra.postgres import free_port
from devinfra.processes import ServiceProcess
from devinfra.topics import create_service_topics
from mashcore.auth import DEFAULT_DEV_KEY


@pytest.fixture
def system_env(kafka_broker: Any, postgres_server: Any, tmp_path: Path) -> dict[str, str]:
    """Environment for one isolated system: its own topics and databases."""
    prefix = f"e{uuid.uuid4().hex[:8]}"
    # Services never create topics: declare them first, as compose and Kubernetes do.
    create_service_topics(kafka_broker.bootstrap_servers, f"{prefix}.")
    for service in ("intake", "triage", "mash_enquiries"):
        postgres_server.create_database(f"{prefix}_{service}")
    return {
        "MASH_BUS": "kafka",
        "MASH_KAFKA_BOOTSTRAP": kafka_broker.bootstrap_servers,
        "MASH_TOPIC_NAMESPACE": f"{prefix}.",
        "MASH_DATABASE_URL_TEMPLATE": postgres_server.url(f"{prefix}_{{service}}"),
        "MASH_DATA_DIR": str(tmp_path / "data"),
        "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
        "MASH_RATE_LIMIT_BURST": "1000000",  # load from one client is the point here
        "MASH_LOG_LEVEL": "INFO",
    }


@pytest.fixture
def launch(system_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start a service process (ready when returned); all are stopped after the test."""
    started: list[ServiceProcess] = []

    def start(service: str, port: int | None = None) -> ServiceProcess:
        process = ServiceProcess(service, port or free_port(), system_env,
                                 tmp_path / "logs" / f"{service}.log")
        started.append(process)
        return process.start().wait_ready()

    yield start
    for process in started:
        process.stop()
