"""Benchmark: one repeat lookup (``link_repeats``, with its inserts) in process, at N stored
contacts on PostgreSQL (issue 17). Deterministic beside the wall-clock figures: the candidates
read and the pages each lookup's queries touch (EXPLAIN (ANALYZE, BUFFERS)). The contacts are
loaded as the throughput bench loads them (``bench.durable.bulk_load_contacts``, vacuumed).

    .venv/bin/python -m bench.repeat_lookup --stored 1000000 --lookups 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

import intake
from bench.durable import bulk_load_contacts
from bench.throughput import REPEAT_WINDOW, synthetic_referral
from devinfra.postgres import start_postgres
from intake.contacts.models import Contact
from intake.contacts.routing import link_repeats
from mashcore.db import UnitOfWork, make_engine
from mashcore.migrations import upgrade_to_head

MIGRATIONS = Path(intake.__file__).parent / "migrations"


def _plan_totals(plan: dict[str, Any]) -> dict[str, int]:
    """Pages touched (shared hit + read) and heap fetches of an index-only scan, over a plan."""
    totals: dict[str, Any] = {
        "pages": plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0),
        "heap_fetches": 0, "scans": set()}
    stack = [plan]
    while stack:
        node = stack.pop()
        totals["heap_fetches"] += node.get("Heap Fetches", 0)
        if "Relation Name" in node:
            totals["scans"].add(f"{node['Node Type']} on {node['Relation Name']}"
                                + (f" using {node['Index Name']}" if "Index Name" in node
                                   else ""))
        stack.extend(node.get("Plans", []))
    return totals


def lookups(engine: Engine, count: int, explain: int) -> dict[str, Any]:
    """Run ``count`` lookups of synthetic referrals, each rolled back; EXPLAIN the first
    ``explain`` lookups' SELECTs."""
    now = datetime.now(UTC)
    selects: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    times: list[float] = []
    pages: list[int] = []
    heap_fetches: list[int] = []
    scans: set[str] = set()
    linked = 0
    for n in range(count):
        submission = synthetic_referral(10_000_000 + n)
        with Session(engine) as session:
            contact = Contact(id=f"00000000-0000-4000-8000-{n:012d}",
                              case_reference=f"MASH-2026-L{n:07d}", kind="referral",
                              partnership="coventry", referrer_agency="health",
                              referrer_subject="bench", status="received", received_at=now,
                              submission=json.dumps(submission))
            session.add(contact)
            session.flush()
            selects.clear()
            event.listen(Engine, "before_cursor_execute", seen)
            started = time.perf_counter()
            try:
                linked += len(link_repeats(UnitOfWork(session), contact, submission, now,
                                           REPEAT_WINDOW))
                session.flush()
            finally:
                event.remove(Engine, "before_cursor_execute", seen)
            times.append(time.perf_counter() - started)
            if n < explain:
                cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                pages.append(0)
                heap_fetches.append(0)
                for statement, parameters in selects:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
                                   parameters)
                    totals = _plan_totals(cursor.fetchone()[0][0]["Plan"])
                    pages[-1] += totals["pages"]
                    heap_fetches[-1] += totals["heap_fetches"]
                    scans.update(totals["scans"])
            session.rollback()
    return {"lookups": count, "links_made": linked,
            "ms_median": 1000 * statistics.median(times),
            "ms_mean": 1000 * statistics.fmean(times),
            "ms_p90": 1000 * statistics.quantiles(times, n=10)[-1],
            "explained": len(pages),
            "pages_per_lookup_median": statistics.median(pages) if pages else None,
            "heap_fetches_per_lookup_median": statistics.median(heap_fetches)
            if heap_fetches else None, "scans": sorted(scans)}


def main() -> None:
    """Load N contacts, then time and EXPLAIN the lookups."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--explain", type=int, default=50)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mash-lookup-"))
    with start_postgres(work / "pg") as pg:
        pg.create_database("lookup_intake")
        engine = make_engine(pg.url("lookup_intake"))
        upgrade_to_head(engine, MIGRATIONS)
        loaded = bulk_load_contacts(pg, "lookup_intake", args.stored, REPEAT_WINDOW)
        lookups(engine, 20, 0)  # warm the pool and the dialect
        result = {"stored": args.stored, "load_seconds": loaded,
                  **lookups(engine, args.lookups, args.explain)}
        engine.dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
