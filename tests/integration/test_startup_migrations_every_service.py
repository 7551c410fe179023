"""Two replicas of each of the six services starting together on a fresh database migrate
it one at a time and both start (issue 13 §3): the race forced as in
test_startup_migrations (both paused where an unserialised upgrade would collide)."""

from __future__ import annotations

import importlib

import pytest

from mash_app.services import SERVICE_MODULES
from tests.integration.test_startup_migrations import two_replicas_migrate


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_two_replicas_of_each_service_upgrading_a_fresh_database_both_start(
    pg_url: str, service: str,
) -> None:
    migrations = importlib.import_module(SERVICE_MODULES[service]).SERVICE.migrations
    assert two_replicas_migrate(pg_url, migrations) == ["ok", "ok"]
