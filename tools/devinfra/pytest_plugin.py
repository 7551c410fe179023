"""Session-scoped pytest fixtures for the real local Kafka broker and PostgreSQL server.

Enable with ``-p devinfra.pytest_plugin`` (or ``addopts``). Each server starts the first
time a test asks for its fixture and stops when the session ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devinfra.kafka import KafkaBroker, start_kafka
from devinfra.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Yield a real single-node Kafka broker shared by the whole test session."""
    broker = start_kafka(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """Yield a real PostgreSQL server shared by the whole test session."""
    server = start_postgres(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()
