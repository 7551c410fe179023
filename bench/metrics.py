"""Benchmark: a ``/metrics`` scrape and the dashboard summary over a long history.

The SLA timekeeper's database (it has every table the scrape and the summary read: outbox,
inbox, clocks, transitions, counters) is migrated, then loaded in bulk (COPY on PostgreSQL,
executemany on SQLite) with a history of two years: ``--rows`` inbox rows, ``--rows``
transitions, as many published outbox rows, a quarter as many ended clocks, plus a few
thousand open clocks and unpublished events. The counters are then started from the rows, as
the migration does for an existing database, and the tables analysed (on PostgreSQL also
vacuumed, as autovacuum does after bulk inserts). Then, in this process against that database:

* scrape: what ``GET /metrics`` renders (messaging metrics and the timekeeper's);
* summary: ``dashboard.summary`` (everything the ops dashboard shows), for all partnerships
  and for one;
* old scrape: the group-by of every inbox row and every transition the scrape used to run,
  for comparison (``--old-runs``, 0 skips it).

Median and max over ``--runs`` runs are printed and written to bench/results/. Nothing is
asserted (not part of make test).

    make bench                                   # throughput, SLA, then this
    .venv/bin/python -m bench.metrics --rows 100000 --backends sqlite
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devinfra.postgres import start_postgres
from mashcore import counters
from mashcore.clock import FrozenClock
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.metrics import messaging_metrics, render
from mashcore.migrations import upgrade_to_head
from mashcore.policy import PolicyBook
from mashcore.relay import OutboxRelay
from mashcore.schemas import default_registry
from mashcore.service import ServiceContext, verifier_from
from mashcore.settings import Settings
from mashcore.topics import TopicNamer
from sla_timekeeper import dashboard
from sla_timekeeper.models import SLA_EVENTS
from sla_timekeeper.service import SERVICE

RESULTS = Path(__file__).parent / "results"
HISTORY_DAYS = 730
PARTNERSHIPS = ("coventry", "warwickshire", "solihull", "default")
CLOCKS = ("threshold_decision", "referrer_acknowledged", "mash_enquiries",
          "partner_information_request", "strategy_minutes", "referrer_outcome")
KINDS = ("started", "warned", "breached", "met", "cancelled", "paused", "resumed")
EVENT_TYPES = ("mash.intake.contact.received.v1", "mash.triage.threshold.decided.v1",
               "mash.triage.case.rated.v1", "mash.enquiries.episode.completed.v1")
CLOCK_COLUMNS = ("clock_id", "version", "clock", "case_reference", "instance", "partnership",
                 "brag", "agency", "started_at", "due_at", "duration", "status", "warned",
                 "breached", "ended_at", "next_wake_at")
TRANSITION_COLUMNS = ("clock_id", "kind", "clock", "case_reference", "partnership", "on_time",
                      "at", "recorded_at")
INBOX_COLUMNS = ("consumer", "event_id", "event_type", "processed_at")
OUTBOX_COLUMNS = ("event_id", "event_type", "topic", "key", "headers", "payload",
                  "created_at", "published_at")
CHUNK = 50_000


def history(now: datetime, rows: int, ended: int, open_clocks: int, unpublished: int,
            seed: int = 7) -> dict[str, Iterator[tuple[Any, ...]]]:
    """The rows of each table, as tuples in the column orders above (synthetic codes only)."""
    rnd = random.Random(seed)

    def when() -> datetime:  # anywhere in the history, today included
        return now - timedelta(seconds=rnd.uniform(0, HISTORY_DAYS * 86400))

    def clocks() -> Iterator[tuple[Any, ...]]:
        for n in range(ended + open_clocks):
            is_open = n >= ended
            # Ended clocks in the order they started (as the service inserts them).
            started = (now - timedelta(hours=rnd.uniform(0, 48)) if is_open else
                       now - timedelta(seconds=HISTORY_DAYS * 86400 * (ended - n) / ended))
            clock = CLOCKS[n % len(CLOCKS)]
            yield (str(uuid.UUID(int=n + 1)), 1, clock, f"MASH-2026-B{n:07d}", "",
                   PARTNERSHIPS[n % len(PARTNERSHIPS)], ("red", "amber", "green", None)[n % 4],
                   ("police", "health", "education")[n % 3]
                   if clock == "partner_information_request" else None,
                   started, started + timedelta(days=1), '{"amount":1,"unit":"working_days"}',
                   ("running", "paused")[n % 7 == 0] if is_open
                   else ("met", "cancelled")[n % 5 == 0],
                   "[]", n % 6 == 0, None if is_open else started + timedelta(hours=20),
                   started + timedelta(days=30) if is_open else None)

    def transitions() -> Iterator[tuple[Any, ...]]:
        for n in range(rows):  # in the order they were recorded, as the ids are
            at = now - timedelta(seconds=HISTORY_DAYS * 86400 * (rows - n) / rows)
            kind = KINDS[n % len(KINDS)]
            c = n % max(ended, 1)
            yield (str(uuid.UUID(int=c + 1)), kind, CLOCKS[c % len(CLOCKS)],
                   f"MASH-2026-B{c:07d}", PARTNERSHIPS[c % len(PARTNERSHIPS)],
                   (n % 3 != 0) if kind == "met" else None, at, at)

    def inbox() -> Iterator[tuple[Any, ...]]:
        for n in range(rows):
            yield ("pipeline", str(uuid.UUID(int=n + 1)), EVENT_TYPES[n % len(EVENT_TYPES)],
                   when())

    def outbox() -> Iterator[tuple[Any, ...]]:
        for n in range(rows + unpublished):
            created = when() if n < rows else now - timedelta(seconds=rnd.uniform(0, 60))
            yield (str(uuid.UUID(int=10**12 + n)), "mash.sla.clock.started.v1", "mash.sla.v1",
                   f"MASH-2026-B{n % max(ended, 1):07d}", "[]", b"{}", created,
                   created + timedelta(seconds=1) if n < rows else None)

    return {"sla_clock": clocks(), "sla_transition": transitions(), "inbox": inbox(),
            "outbox": outbox()}


COLUMNS = {"sla_clock": CLOCK_COLUMNS, "sla_transition": TRANSITION_COLUMNS,
           "inbox": INBOX_COLUMNS, "outbox": OUTBOX_COLUMNS}


def _copy_value(value: Any) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    return str(value)


def load_postgres(conninfo: str, tables: dict[str, Iterator[tuple[Any, ...]]]) -> None:
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        for table, rows in tables.items():
            with cur.copy(f"COPY {table} ({', '.join(COLUMNS[table])}) FROM STDIN") as copy:
                buffer = io.StringIO()
                for i, row in enumerate(rows, 1):
                    buffer.write("\t".join(_copy_value(v) for v in row) + "\n")
                    if i % CHUNK == 0:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())


def load_sqlite(engine: Engine, tables: dict[str, Iterator[tuple[Any, ...]]]) -> None:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for table, rows in tables.items():
            columns = COLUMNS[table]
            statement = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (constants)
                         f"VALUES ({', '.join('?' for _ in columns)})")
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                # As the service stores them: UTC text, booleans as 0/1.
                batch.append(tuple(v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
                                   if isinstance(v, datetime) else v for v in row))
                if len(batch) >= CHUNK:
                    cursor.executemany(statement, batch)
                    batch.clear()
            cursor.executemany(statement, batch)
        raw.commit()
    finally:
        raw.close()


def start_counters(engine: Engine) -> None:
    """As the migration does for rows written before the counters existed; then the
    statistics (and on PostgreSQL the visibility map) autovacuum would keep."""
    with engine.begin() as connection:
        for name, query in ((counters.EVENTS_HANDLED, "SELECT consumer, event_type, count(*) "
                             "FROM inbox GROUP BY consumer, event_type"),
                            (SLA_EVENTS, "SELECT kind, count(*) FROM sla_transition "
                             "GROUP BY kind")):
            counts = [((name, counters.encode_labels([str(v) for v in row[:-1]])), int(row[-1]))
                      for row in connection.execute(sa.text(query))]
            counters.increment(connection, sorted(counts))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE" if connection.dialect.name == "postgresql"
                                   else "ANALYZE"))


def context(engine: Engine, now: datetime, work: Path) -> ServiceContext:
    clock = FrozenClock(now)
    bus = EmbeddedBus(work / "bus.sqlite")
    settings = Settings()
    return ServiceContext(name=SERVICE.name, settings=settings, engine=engine, bus=bus,
                          clock=clock, registry=default_registry(), topics=TopicNamer(),
                          verifier=verifier_from(settings),
                          relay=OutboxRelay(engine, bus, clock), policy=PolicyBook.load())


def timed(run: Callable[[], object], runs: int) -> dict[str, Any]:
    """Milliseconds of each run after one warm-up: median and max."""
    run()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return {"runs": runs, "median_ms": round(statistics.median(times), 2),
            "max_ms": round(max(times), 2)}


def old_scrape(engine: Engine) -> None:
    """The group-by of every inbox row and transition the scrape used to run."""
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT consumer, event_type, count(*) FROM inbox "
                                   "GROUP BY consumer, event_type")).all()
        connection.execute(sa.text("SELECT kind, count(*) FROM sla_transition "
                                   "GROUP BY kind")).all()


def measure(backend: str, url: str, load: Callable[[Engine, dict[str, Any]], None],
            args: argparse.Namespace, work: Path) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    engine = make_engine(url)
    try:
        upgrade_to_head(engine, SERVICE.migrations)
        print(f"{backend}: loading {args.rows} inbox rows, {args.rows} transitions, "
              f"{args.rows} outbox rows, {args.rows // 4} ended clocks ...", flush=True)
        started = time.perf_counter()
        load(engine, history(now, args.rows, args.rows // 4, args.open_clocks,
                             args.unpublished))
        start_counters(engine)
        load_seconds = time.perf_counter() - started
        ctx = context(engine, now, work)
        sources = [messaging_metrics(SERVICE.name, ctx.unit_of_work, ctx.clock.now),
                   *dashboard.sla_metrics(ctx)]
        result: dict[str, Any] = {
            "rows": {"inbox": args.rows, "sla_transition": args.rows, "outbox": args.rows,
                     "sla_clock_ended": args.rows // 4, "sla_clock_open": args.open_clocks,
                     "outbox_unpublished": args.unpublished},
            "load_seconds": round(load_seconds, 1),
            "scrape": timed(lambda: render(sources), args.runs),
            "summary": timed(lambda: dashboard.summary(ctx), args.runs),
            "summary_one_partnership": timed(lambda: dashboard.summary(ctx, ["coventry"]),
                                             args.runs),
        }
        if args.old_runs:
            result["old_scrape_group_by"] = timed(lambda: old_scrape(engine), args.old_runs)
        return result
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000,
                        help="inbox rows, transitions and published outbox rows each")
    parser.add_argument("--open-clocks", type=int, default=5_000)
    parser.add_argument("--unpublished", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--old-runs", type=int, default=3,
                        help="runs of the old whole-table group-by, for comparison")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    backends: Sequence[str] = [b.strip() for b in args.backends.split(",") if b.strip()]
    work = Path(tempfile.mkdtemp(prefix="mash-bench-metrics-"))
    results: dict[str, Any] = {}
    try:
        if "sqlite" in backends:
            url = f"sqlite:///{work / 'sla_timekeeper.sqlite'}"
            results["sqlite"] = measure("sqlite", url, load_sqlite, args, work)
        if "postgres" in backends:
            with start_postgres(work / "pg") as pg:
                pg.create_database("bench_sla_timekeeper")
                url = pg.url("bench_sla_timekeeper")
                conninfo = pg.conninfo("bench_sla_timekeeper")
                results["postgres"] = measure(
                    "postgres", url, lambda _engine, tables: load_postgres(conninfo, tables),
                    args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out_result = {
        "measured_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average": os.getloadavg()},
        "arguments": vars(args),
        **results,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"metrics-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(out_result, indent=2))
    for backend, result in results.items():
        for part in ("scrape", "summary", "summary_one_partnership", "old_scrape_group_by"):
            if part in result:
                r = result[part]
                print(f"{backend:8} {part:24} median {r['median_ms']:8.1f} ms   "
                      f"max {r['max_ms']:8.1f} ms   ({r['runs']} runs)")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
