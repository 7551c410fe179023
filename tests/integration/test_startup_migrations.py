"""Replicas starting together on a fresh database migrate it one at a time (issue 13 §3)."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.runtime.migration import MigrationContext

from mashcore.db import make_engine
from mashcore.migrations import upgrade_to_head
from triage.service import SERVICE as TRIAGE

DEADLINE_S = 60.0


def _migrate_paused(url: str, migrations: str, checked: Any, release: EventType,
                    results: Any) -> None:
    """A replica's start-up migration that pauses once it has seen the database is empty."""
    original = MigrationContext._ensure_version_table

    def paused(self: MigrationContext, purge: bool = False) -> None:
        # Here a replica has decided that the version table is missing and is about to
        # create it: the moment two unserialised replicas collide.
        checked.put(os.getpid())
        release.wait(DEADLINE_S)
        original(self, purge)

    MigrationContext._ensure_version_table = paused  # type: ignore[method-assign]
    engine = make_engine(url)
    try:
        upgrade_to_head(engine, Path(migrations))
        results.put("ok")
    except Exception as error:  # reported to the test, which names it
        results.put(f"{type(error).__name__}: {error}")
    finally:
        engine.dispose()


def _someone_waits_for_the_migration_lock(url: str) -> bool:
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return bool(row and row[0])


def two_replicas_migrate(url: str, migrations: Path) -> list[str]:
    """Start two replicas' migrations of ``migrations`` on the fresh database at ``url``, both
    paused where an unserialised upgrade would collide; their outcomes, sorted ("ok" each)."""
    spawn = multiprocessing.get_context("spawn")
    checked, results = spawn.Queue(), spawn.Queue()
    release = spawn.Event()
    replicas = [
        spawn.Process(target=_migrate_paused,
                      args=(url, str(migrations), checked, release, results))
        for _ in range(2)
    ]
    for replica in replicas:
        replica.start()
    try:
        # Release the replicas once both have found the database empty (unserialised: the
        # race is now certain) or once one of them is queued behind the other's lock.
        deadline = time.monotonic() + DEADLINE_S
        seen: set[int] = set()
        while time.monotonic() < deadline:
            while not checked.empty():
                seen.add(checked.get())
            if len(seen) == 2 or (seen and _someone_waits_for_the_migration_lock(url)):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the replicas never reached their migrations")
        release.set()
        return sorted(results.get(timeout=DEADLINE_S) for _ in replicas)
    finally:
        release.set()
        for replica in replicas:
            replica.join(DEADLINE_S)


def test_two_replicas_upgrading_a_fresh_database_at_once_both_start(pg_url: str) -> None:
    assert two_replicas_migrate(pg_url, TRIAGE.migrations) == ["ok", "ok"]


def test_a_sqlite_database_file_is_migrated_under_a_file_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'triage.sqlite'}")
    upgrade_to_head(engine, TRIAGE.migrations)
    upgrade_to_head(engine, TRIAGE.migrations)
    engine.dispose()
    assert (tmp_path / "triage.sqlite.migrate-lock").exists()
