"""Shared fixtures: tiers, and the real PostgreSQL and Kafka servers (started on first use)."""

import os
import tempfile
import uuid
from typing import Any

import pytest

from mashcore.tap import TAP_ENV

pytest_plugins = ["tests.tiers", "devinfra.pytest_plugin"]


def pytest_configure(config: pytest.Config) -> None:
    """Tap every message published during the session (service processes inherit it)."""
    # pact-python reports usage to its vendor unless told not to: nothing leaves this machine.
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    if not os.environ.get(TAP_ENV):
        os.environ[TAP_ENV] = tempfile.mkdtemp(prefix="mash-event-tap-")


@pytest.fixture
def pg_url(postgres_server: Any) -> str:
    """A fresh database on the real PostgreSQL server, for this test only."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres_server.create_database(name)
    return str(postgres_server.url(name))


@pytest.fixture
def namespace() -> str:
    """A topic prefix that isolates this test's topics on the shared broker."""
    return f"t{uuid.uuid4().hex[:8]}."
