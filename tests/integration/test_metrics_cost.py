"""Costs that do not grow with history, on the real PostgreSQL server: ``/metrics`` reads
counters kept as rows are written (never the inbox or the transitions), the dashboard reads
the open clocks and the window's ended ones (never every ended clock), and both give the same
figures as counting every row, for a history seeded before the counters existed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from mashcore import counters
from mashcore.clock import FrozenClock
from mashcore.consumer import EventConsumer
from mashcore.db import make_engine, unit_of_work
from mashcore.embedded_bus import EmbeddedBus
from mashcore.inbox import InboxRecord, record_processed
from mashcore.metrics import messaging_metrics, render
from mashcore.outbox import OutboxRecord
from mashcore.service import ServiceContext
from mashcore.topics import INTAKE_CONTACTS
from sla_timekeeper import dashboard
from sla_timekeeper.models import ClockRow, TransitionRow
from sla_timekeeper.service import SERVICE as TIMEKEEPER
from sla_timekeeper.timekeeper import event_handlers, fire_due_clocks
from tests.support import contact_received_event, service_context

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 09:00
PARTNERSHIPS = ("coventry", "warwickshire")
OLD, RECENT, OPEN = 3000, 6, 8  # ended clocks started 60 days ago; in the last 30; open


def migrate(engine: Engine, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(TIMEKEEPER.migrations))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, target)


def clock_row(n: int, status: str, started_at: datetime, *, breached: bool) -> dict[str, Any]:
    clock = "partner_information_request" if n % 3 == 0 else "threshold_decision"
    return {"clock_id": str(uuid.UUID(int=n + 1)), "version": 1, "clock": clock,
            "case_reference": f"MASH-2026-H{n:07d}", "instance": "",
            "partnership": PARTNERSHIPS[n % 2], "brag": "red" if n % 4 else None,
            "agency": ("police", "health")[n % 2] if clock.startswith("partner") else None,
            "started_at": started_at, "national_return_started_at": None,
            "due_at": started_at + timedelta(days=1), "duration": "{}", "status": status,
            "warned": "[]", "breached": breached, "paused_at": None,
            "ended_at": None if status in ("running", "paused") else started_at,
            "next_wake_at": None}


def seed_history(engine: Engine) -> None:
    """A history written before the counters existed (plain inserts, as the old code left)."""
    clocks = [clock_row(n, ("met", "cancelled")[n % 2], NOW - timedelta(days=60),
                        breached=n % 5 == 0) for n in range(OLD)]
    clocks += [clock_row(OLD + n, ("met", "cancelled")[n % 2], NOW - timedelta(days=3 + n),
                         breached=n % 2 == 0) for n in range(RECENT)]
    clocks += [clock_row(OLD + RECENT + n, ("running", "paused")[n % 4 == 0],
                         NOW - timedelta(hours=n), breached=n % 3 == 0) for n in range(OPEN)]
    transitions = [{"clock_id": c["clock_id"], "kind": kind, "clock": c["clock"],
                    "case_reference": c["case_reference"], "partnership": c["partnership"],
                    "on_time": (kind == "met") or None, "at": when, "recorded_at": when}
                   for i, c in enumerate(clocks)
                   for kind, when in (("started", c["started_at"]),
                                      (("met", "breached")[i % 2], c["started_at"]
                                       + timedelta(hours=2)))]
    inbox = [{"consumer": "pipeline", "event_id": f"seed-{n}",
              "event_type": ("mash.intake.contact.received.v1",
                             "mash.triage.threshold.decided.v1")[n % 2],
              "processed_at": NOW - timedelta(days=60)} for n in range(500)]
    published = [{"event_id": f"seed-{n}", "event_type": "mash.sla.clock.started.v1",
                  "topic": "mash.sla.v1", "key": "k", "headers": "[]", "payload": b"{}",
                  "created_at": NOW - timedelta(days=60, seconds=n),
                  "published_at": NOW - timedelta(days=60, seconds=n)} for n in range(2 * OLD)]
    with engine.begin() as connection:
        connection.execute(OutboxRecord.__table__.insert(), published)  # type: ignore[attr-defined]
        connection.execute(ClockRow.__table__.insert(), clocks)  # type: ignore[attr-defined]
        connection.execute(TransitionRow.__table__.insert(), transitions)  # type: ignore[attr-defined]
        connection.execute(InboxRecord.__table__.insert(), inbox)  # type: ignore[attr-defined]


@pytest.fixture
def history(pg_url: str, tmp_path: Path) -> Iterator[ServiceContext]:
    """The timekeeper's database with a seeded history, then migrated to the counters."""
    engine = make_engine(pg_url)
    migrate(engine, "0003")  # the revision before the counters
    seed_history(engine)
    migrate(engine, "head")
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")  # the planner sees the real table sizes
    yield service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="sla-timekeeper")
    engine.dispose()


async def live_events(ctx: ServiceContext) -> None:
    """New work through the real consumer (inbox) and timer, a redelivery among it."""
    consumer = EventConsumer(name="pipeline", engine=ctx.engine, bus=ctx.bus,
                             registry=ctx.registry, clock=ctx.clock,
                             handlers=event_handlers(ctx))
    events = [contact_received_event(f"MASH-2026-LIVE{i:04d}",
                                     contact_id=str(uuid.UUID(int=1000 + i)))
              for i in range(4)]
    for event in (*events, events[0]):  # the first one delivered twice
        await consumer(event.to_message(ctx.topics(INTAKE_CONTACTS)))
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.set(NOW + timedelta(days=3))
    while fire_due_clocks(ctx):
        pass


def scrape(ctx: ServiceContext) -> dict[str, dict[tuple[str, ...], float]]:
    text = render([messaging_metrics("sla-timekeeper", ctx.unit_of_work, ctx.clock.now),
                   *dashboard.sla_metrics(ctx)]).decode()
    return {family.name: {tuple(v for k, v in sorted(s.labels.items()) if k != "service"):
                          s.value for s in family.samples}
            for family in text_string_to_metric_families(text)}


def counted(ctx: ServiceContext, query: str) -> dict[tuple[str, ...], float]:
    """What the old scrape reported: grouping every row."""
    with ctx.engine.connect() as connection:
        return {tuple(row[:-1]): float(row[-1]) for row in connection.exec_driver_sql(query)}


def statements_of(engine: Engine, run: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        sa_event.remove(engine, "before_cursor_execute", note)
    return seen


async def test_the_scrape_reads_counters_equal_to_counting_every_row_and_never_the_big_tables(
    history: ServiceContext,
) -> None:
    await live_events(history)
    statements = statements_of(history.engine, lambda: scrape(history))
    metrics = scrape(history)
    # Sorted label names: consumer, event_type / kind.
    assert metrics["mash_events_handled"] == counted(
        history, "SELECT consumer, event_type, count(*) FROM inbox GROUP BY 1, 2")
    assert metrics["mash_events_handled"][("pipeline", "mash.intake.contact.received.v1")] \
        == 250 + 4  # the seeded history plus the live events, the redelivery once
    assert metrics["mash_sla_events"] == counted(
        history, "SELECT kind, count(*) FROM sla_transition GROUP BY 1")
    assert metrics["mash_sla_events"][("breached",)] > (OLD + RECENT + OPEN) // 2
    for statement, _ in statements:
        assert not re.search(r"\b(inbox|sla_transition)\b", statement), statement
    # A purge of old inbox rows (retention) does not lower a counter: it stays monotonic.
    with history.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM inbox WHERE event_id LIKE 'seed-%%'")
    assert scrape(history)["mash_events_handled"] == metrics["mash_events_handled"]


def rows_read(plan: dict[str, Any], table: str) -> int:
    """Rows a plan took from ``table``: those it kept plus those its filters threw away."""
    total = 0
    if plan.get("Relation Name") == table:
        total += int(plan["Actual Rows"]) * int(plan["Actual Loops"]) + \
            int(plan.get("Rows Removed by Filter", 0)) + \
            int(plan.get("Rows Removed by Index Recheck", 0))
    return total + sum(rows_read(child, table) for child in plan.get("Plans", ()))


def expected_rates(ctx: ServiceContext) -> dict[str, Any]:
    """The old one-query counts: open clocks plus those ended and started in the window."""
    window = NOW - timedelta(days=30)
    with ctx.engine.connect() as connection:
        def rows(query: str) -> list[Any]:
            return list(connection.exec_driver_sql(query, {"w": window}))
        met = rows("SELECT count(*), sum(CASE WHEN breached THEN 0 ELSE 1 END) FROM sla_clock "
                   "WHERE status = 'met' AND started_at >= %(w)s")[0]
        partnerships = rows(
            "SELECT partnership, count(*), sum(CASE WHEN breached THEN 1 ELSE 0 END) "
            "FROM sla_clock WHERE (status IN ('running', 'paused') OR (started_at >= %(w)s "
            "AND status IN ('met', 'cancelled'))) GROUP BY 1 ORDER BY 1")
        agencies = rows(
            "SELECT agency, count(*), sum(CASE WHEN breached THEN 1 ELSE 0 END) "
            "FROM sla_clock WHERE (status IN ('running', 'paused') OR (started_at >= %(w)s "
            "AND status IN ('met', 'cancelled'))) AND clock = 'partner_information_request' "
            "AND agency IS NOT NULL GROUP BY 1 ORDER BY 1")
    rate = (lambda b, t: round(b / t, 3) if t else None)  # noqa: E731
    return {
        "met_rate": rate(int(met[1] or 0), int(met[0])),
        "breach_rate_by_partnership": [
            {"partnership": p, "clocks": c, "breached": int(b), "rate": rate(int(b), c)}
            for p, c, b in partnerships],
        "breach_rate_by_agency": [
            {"agency": a, "clocks": c, "breached": int(b), "rate": rate(int(b), c)}
            for a, c, b in agencies],
    }


async def test_the_dashboard_reads_open_and_recent_clocks_only_and_counts_as_before(
    history: ServiceContext,
) -> None:
    await live_events(history)
    with history.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    result: dict[str, Any] = {}
    statements = statements_of(history.engine,
                               lambda: result.update(dashboard.summary(history)))
    assert {k: result[k] for k in expected_rates(history)} == expected_rates(history)
    assert result["breach_rate_by_partnership"] and result["breach_rate_by_agency"]
    for partnership in PARTNERSHIPS:  # the partnership filter is in the query, as before
        mine = dashboard.summary(history, [partnership])
        assert [p["partnership"] for p in mine["breach_rate_by_partnership"]] == [partnership]
    statements += statements_of(history.engine, lambda: scrape(history))
    with history.engine.connect() as connection:
        open_now, today = (connection.exec_driver_sql(query).scalar_one() for query in (
            "SELECT count(*) FROM sla_clock WHERE status IN ('running', 'paused')",
            "SELECT count(*) FROM sla_transition WHERE recorded_at >= "
            "timestamptz '2026-11-27 00:00:00+00'"))
        recent_ended = connection.exec_driver_sql(
            "SELECT count(*) FROM sla_clock WHERE status IN ('met', 'cancelled') AND "
            "started_at >= %(w)s", {"w": history.clock.now() - timedelta(days=30)}).scalar_one()
        # Whatever the table sizes, use an index wherever one serves (as at a million rows).
        connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            [[plan]] = connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).one()
            assert rows_read(plan["Plan"], "sla_clock") <= open_now + recent_ended, statement
            assert rows_read(plan["Plan"], "sla_transition") <= today, statement
            assert rows_read(plan["Plan"], "inbox") == 0, statement
    assert open_now + recent_ended < OLD  # reading every ended clock would have failed


def test_counts_commit_with_their_rows_and_not_with_a_rolled_back_savepoint_or_duplicate(
    pg_url: str,
) -> None:
    engine = make_engine(pg_url)
    migrate(engine, "head")
    try:
        with unit_of_work(engine) as first, unit_of_work(engine) as second:
            record_processed(second, "pipeline", "e-1", "t.v1", NOW)  # a duplicate delivery
            record_processed(first, "pipeline", "e-1", "t.v1", NOW)
            with first.session.begin_nested() as savepoint:
                record_processed(first, "pipeline", "e-2", "t.v1", NOW)
                first.session.flush()
                savepoint.rollback()  # e.g. a clock the timer could not fire
            record_processed(first, "pipeline", "e-3", "u.v1", NOW)
            first.commit()
            with pytest.raises(sa.exc.IntegrityError):
                second.commit()  # the same event committed first by the other: rolled back
        with unit_of_work(engine) as uow:
            assert counters.read(uow.session, counters.EVENTS_HANDLED) == [
                (("pipeline", "t.v1"), 1), (("pipeline", "u.v1"), 1)]
            with pytest.raises(RuntimeError), uow.session.begin_nested():
                record_processed(uow, "pipeline", "e-4", "u.v1", NOW)
                uow.session.flush()
                raise RuntimeError("the handler failed")
            record_processed(uow, "pipeline", "e-5", "u.v1", NOW)
            uow.commit()
        with unit_of_work(engine) as uow:
            record_processed(uow, "pipeline", "e-6", "u.v1", NOW)
            uow.session.flush()
            uow.session.rollback()  # the whole transaction: nothing it counted happened
            assert counters.read(uow.session, counters.EVENTS_HANDLED) == [
                (("pipeline", "t.v1"), 1), (("pipeline", "u.v1"), 2)]
    finally:
        engine.dispose()


def test_two_transactions_counting_the_same_counters_in_opposite_orders_both_commit(
    pg_url: str,
) -> None:
    """Counter rows are locked only at commit, in one order: replicas never deadlock on
    them (were they locked as each row is written, the third step would wait for ever)."""
    engine = make_engine(pg_url)
    migrate(engine, "head")
    try:
        with unit_of_work(engine) as first, unit_of_work(engine) as second:
            for uow in (first, second):  # a lock wait fails the test instead of hanging it
                uow.session.execute(sa.text("SET lock_timeout = '5s'"))
            steps = [(first, "a.v1"), (second, "b.v1"), (first, "b.v1"), (second, "a.v1")]
            for n, (uow, event_type) in enumerate(steps):
                record_processed(uow, "pipeline", f"e-{n}", event_type, NOW)
                uow.session.flush()
            first.commit()
            second.commit()
        with unit_of_work(engine) as uow:
            assert counters.read(uow.session, counters.EVENTS_HANDLED) == [
                (("pipeline", "a.v1"), 2), (("pipeline", "b.v1"), 2)]
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_history(tmp_path: Path) -> Iterator[ServiceContext]:
    """The same history in the embedded default, SQLite (a file, as ``mash run`` keeps)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'sla_timekeeper.sqlite'}")
    migrate(engine, "0003")  # the revision before the counters
    seed_history(engine)
    migrate(engine, "head")
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    yield service_context(engine, EmbeddedBus(tmp_path / "bus.sqlite"), FrozenClock(NOW),
                          name="sla-timekeeper")
    engine.dispose()


async def test_on_sqlite_the_scrape_and_dashboard_search_indexes_and_never_scan_a_table(
    sqlite_history: ServiceContext,
) -> None:
    ctx = sqlite_history
    await live_events(ctx)
    with ctx.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    statements = statements_of(ctx.engine, lambda: (
        scrape(ctx), dashboard.summary(ctx), dashboard.summary(ctx, ["coventry"])))
    assert scrape(ctx)["mash_sla_events"] == counted(
        ctx, "SELECT kind, count(*) FROM sla_transition GROUP BY 1")
    with ctx.engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            for *_, detail in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                         parameters):
                # A search of an index range, or a walk of the open clocks' own index.
                assert detail.startswith(("SEARCH", "USE TEMP B-TREE")) or re.fullmatch(
                    r"SCAN sla_clock USING (COVERING )?INDEX ix_sla_clock_open", detail), (
                    detail, statement)
