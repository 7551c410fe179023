"""Embedded bus: a durable append-only log in a SQLite file, for running with no servers.

It keeps Kafka's contract that matters here: messages survive a restart, each consumer group
has committed offsets, and a message is redelivered until its handler returns. There are no
partitions: one log, so every key is trivially ordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import structlog

from mashcore.bus import MessageHandler
from mashcore.messages import Message
from mashcore.tap import record_published
from mashcore.tasks import WakeableLoop

log = structlog.get_logger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bus_log (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_bus_log_topic ON bus_log (topic, position);
CREATE TABLE IF NOT EXISTS bus_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_position INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic)
);
"""


class EmbeddedBus:
    """An in-process bus whose log and offsets live in one SQLite file."""

    def __init__(self, path: Path, *, poll_interval: float = 0.5) -> None:
        self.path = path
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._subscriptions: list[EmbeddedSubscription] = []

    async def start(self) -> None:
        """Open (and create) the log."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged publish is on disk
        conn.execute("PRAGMA busy_timeout=30000")
        conn.executescript(_SCHEMA)
        self._conn = conn

    async def stop(self) -> None:
        """Close the log."""
        for subscription in list(self._subscriptions):
            await subscription.stop()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Topics need no creation in the log."""

    def problems(self, topics: Sequence[str]) -> list[str]:
        """The log is a local file: nothing to be unreachable."""
        return [] if self._conn is not None else ["embedded bus: not started"]

    async def publish(self, messages: Sequence[Message]) -> None:
        """Append all messages in one transaction and wake the subscribers."""
        await asyncio.to_thread(self._append, messages)
        record_published(messages)
        for subscription in self._subscriptions:
            subscription.wake()

    def subscribe(
        self, group: str, topics: Sequence[str], handler: MessageHandler, *,
        from_now: bool = False,
    ) -> EmbeddedSubscription:
        """A subscription reading the log from the group's committed position (or, for a
        new group ``from_now``, from the end of the log as it is now)."""
        if from_now:
            with self._lock:
                end = self._db().execute("SELECT COALESCE(MAX(position), 0) FROM bus_log"
                                         ).fetchone()[0]
            for topic in topics:
                self._commit(group, topic, int(end) + 1)
        subscription = EmbeddedSubscription(self, group, list(topics), handler)
        self._subscriptions.append(subscription)
        return subscription

    async def read_topic(self, topic: str) -> list[Message]:
        """Everything on one topic, oldest first, without moving any group's offsets."""
        return await asyncio.to_thread(self._read, "", [topic], 1_000_000)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("EmbeddedBus used before start()")
        return self._conn

    def _append(self, messages: Sequence[Message]) -> None:
        with self._lock:
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO bus_log (topic, key, value, headers) VALUES (?, ?, ?, ?)",
                    [
                        (m.topic, m.key, m.value,
                         json.dumps([(k, v.decode("utf-8", "replace")) for k, v in m.headers]))
                        for m in messages
                    ],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _read(self, group: str, topics: list[str], limit: int) -> list[Message]:
        with self._lock:
            conn = self._db()
            placeholders = ",".join("?" for _ in topics)
            rows = conn.execute(
                f"""
                SELECT l.position, l.topic, l.key, l.value, l.headers
                FROM bus_log l
                LEFT JOIN bus_offsets o ON o.group_id = ? AND o.topic = l.topic
                WHERE l.topic IN ({placeholders}) AND l.position >= COALESCE(o.next_position, 0)
                ORDER BY l.position LIMIT ?
                """,  # noqa: S608 - placeholders only, values are bound
                [group, *topics, limit],
            ).fetchall()
        return [
            Message(
                topic=topic,
                key=key,
                value=value,
                headers=tuple((k, v.encode("utf-8")) for k, v in json.loads(headers)),
                partition=0,
                offset=position,
            )
            for position, topic, key, value, headers in rows
        ]

    def _commit(self, group: str, topic: str, next_position: int) -> None:
        with self._lock:
            self._db().execute(
                """
                INSERT INTO bus_offsets (group_id, topic, next_position) VALUES (?, ?, ?)
                ON CONFLICT (group_id, topic) DO UPDATE SET next_position = excluded.next_position
                """,
                (group, topic, next_position),
            )

    def _forget(self, subscription: EmbeddedSubscription) -> None:
        with contextlib.suppress(ValueError):
            self._subscriptions.remove(subscription)


class EmbeddedSubscription:
    """Reads the log for one group and commits after each handled message."""

    def __init__(
        self, bus: EmbeddedBus, group: str, topics: list[str], handler: MessageHandler
    ) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._handler = handler
        self._worker = WakeableLoop(f"embedded-consume-{group}", self._step,
                                    bus.poll_interval)

    def wake(self) -> None:
        """New messages were appended."""
        self._worker.wake()

    async def start(self) -> None:
        """Consume in the background."""
        self._worker.start()

    async def stop(self) -> None:
        """Stop consuming after the message in hand."""
        self._bus._forget(self)
        await self._worker.stop()

    def problems(self) -> list[str]:
        """Always consuming once started."""
        return []

    async def _step(self) -> bool:
        """Handle what is waiting; True when a full batch suggests there is more."""
        messages = await asyncio.to_thread(self._bus._read, self._group, self._topics, 200)
        for message in messages:
            try:
                await self._handler(message)
            except Exception:
                log.exception("handler raised; message will be redelivered",
                              topic=message.topic, offset=message.offset)
                await asyncio.sleep(1.0)
                return False
            assert message.offset is not None
            await asyncio.to_thread(
                self._bus._commit, self._group, message.topic, message.offset + 1
            )
        return len(messages) == 200
