"""Two replicas of each of the six services starting together on a fresh database migrate
it one at a time and both start (issue 13 §3): the race forced as in
test_startup_migrations (both paused where an unserialised upgrade would collide)."""

from __future__ import annotations

import importlib
import multiprocessing
import time

import pytest

from mashcore.service import SERVICE_MODULES
from tests.integration.test_startup_migrations import (
    DEADLINE_S,
    _migrate_paused,
    _someone_waits_for_the_migration_lock,
)


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_two_replicas_of_each_service_upgrading_a_fresh_database_both_start(
    pg_url: str, service: str,
) -> None:
    migrations = importlib.import_module(SERVICE_MODULES[service]).SERVICE.migrations
    spawn = multiprocessing.get_context("spawn")
    checked, results = spawn.Queue(), spawn.Queue()
    release = spawn.Event()
    replicas = [spawn.Process(target=_migrate_paused,
                              args=(pg_url, str(migrations), checked, release, results))
                for _ in range(2)]
    for replica in replicas:
        replica.start()
    try:
        deadline = time.monotonic() + DEADLINE_S
        seen: set[int] = set()
        while time.monotonic() < deadline:
            while not checked.empty():
                seen.add(checked.get())
            if len(seen) == 2 or (seen and _someone_waits_for_the_migration_lock(pg_url)):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the replicas never reached their migrations")
        release.set()
        outcomes = sorted(results.get(timeout=DEADLINE_S) for _ in replicas)
    finally:
        release.set()
        for replica in replicas:
            replica.join(DEADLINE_S)
    assert outcomes == ["ok", "ok"]
