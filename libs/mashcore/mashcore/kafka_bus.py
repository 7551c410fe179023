"""Kafka bus on aiokafka: idempotent producer, manual offset commits after processing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from mashcore.bus import MessageHandler
from mashcore.messages import Message
from mashcore.tap import record_published

log = structlog.get_logger(__name__)
_TOPIC_ALREADY_EXISTS = 36


class KafkaBus:
    """Publishes with an idempotent producer and hands out manually committed subscriptions."""

    def __init__(self, bootstrap_servers: str, *, client_id: str, partitions: int = 3,
                 replication_factor: int = 1) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect the producer."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            enable_idempotence=True,  # broker de-duplicates producer retries; implies acks=all
            acks="all",  # a send is acknowledged only once every in-sync replica has it
            linger_ms=5,  # small wait lets the relay's batch share requests
            max_batch_size=1024 * 1024,
        )
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and close the producer."""
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create missing topics with the configured partition count."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [t for t in dict.fromkeys(topics) if t not in existing]
            if wanted:
                # In production the replication factor must match the cluster's (3), or a
                # service starting before the operator creates the topics would make an
                # under-replicated topic on which every acks=all send fails.
                with contextlib.suppress(TopicAlreadyExistsError):
                    response = await admin.create_topics(
                        [NewTopic(t, num_partitions=self.partitions,
                                  replication_factor=self.replication_factor)
                         for t in wanted]
                    )
                    failures = [
                        f"{topic}: error {code} {message or ''}".strip()
                        for topic, code, *rest in response.topic_errors
                        for message in [rest[0] if rest else None]
                        if code not in (0, _TOPIC_ALREADY_EXISTS)
                    ]
                    if failures:
                        raise RuntimeError(f"could not create topics: {failures}")
        finally:
            await admin.close()

    async def publish(self, messages: Sequence[Message]) -> None:
        """Send all, then wait for every acknowledgement (raises on any failure)."""
        if self._producer is None:
            raise RuntimeError("KafkaBus.publish before start()")
        futures = [
            await self._producer.send(
                m.topic, value=m.value, key=m.key, headers=list(m.headers)
            )
            for m in messages
        ]
        await asyncio.gather(*futures)
        record_published(messages)

    def subscribe(
        self, group: str, topics: Sequence[str], handler: MessageHandler, *,
        from_now: bool = False,
    ) -> KafkaSubscription:
        """A consumer in `group` over `topics`."""
        return KafkaSubscription(self.bootstrap_servers, group, list(topics), handler,
                                 from_now=from_now)


class KafkaSubscription:
    """Consumes batches; commits a partition's offset only after its messages are handled."""

    def __init__(
        self, bootstrap_servers: str, group: str, topics: list[str], handler: MessageHandler,
        *, from_now: bool = False,
    ) -> None:
        self._from_now = from_now
        self._bootstrap = bootstrap_servers
        self._group = group
        self._topics = topics
        self._handler = handler
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Offsets handled but not yet committed (a commit failed): committed with the next.
        self._uncommitted: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        """Join the group and consume in the background."""
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group,
            enable_auto_commit=False,  # commit only after the database transaction
            # A new group starts from the beginning, so nothing is lost; a live view, now.
            auto_offset_reset="latest" if self._from_now else "earliest",
            isolation_level="read_committed",
            max_poll_interval_ms=300_000,
            session_timeout_ms=10_000,  # a killed replica's partitions move on within seconds
            heartbeat_interval_ms=1_000,
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consume-{self._group}")

    async def stop(self) -> None:
        """Finish and commit the batch in hand, then leave the group (cancel only as fallback)."""
        self._stopping = True
        if self._task is not None:
            _done, pending = await asyncio.wait({self._task}, timeout=15)
            if pending:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        self._task = None
        self._consumer = None

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=200)
            except Exception:
                log.exception("consumer fetch failed; continuing", group=self._group)
                await asyncio.sleep(1.0)
                continue
            # Each partition's batch on its own: a failure in one (a commit refused during a
            # rebalance) never skips the records already fetched for the others.
            for tp, records in batches.items():
                try:
                    await self._handle_partition(consumer, tp, records)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("partition batch failed; continuing", group=self._group,
                                  topic=tp.topic, partition=tp.partition)
            await self._commit_pending(consumer)

    async def _commit_pending(self, consumer: AIOKafkaConsumer) -> None:
        """Commit the handled offsets; one that fails is kept and tried with the next."""
        if not self._uncommitted:
            return
        assigned = consumer.assignment()
        # A partition moved to another member: its new owner starts from the last commit
        # and the inbox makes the records handled here harmless to handle again.
        offsets = {tp: o for tp, o in self._uncommitted.items() if tp in assigned}
        self._uncommitted.clear()
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:
            log.warning("offset commit failed; retried with the next commit",
                        group=self._group, error=type(exc).__name__)
            for tp, offset in offsets.items():
                self._uncommitted[tp] = max(offset, self._uncommitted.get(tp, offset))

    async def _handle_partition(
        self, consumer: AIOKafkaConsumer, tp: TopicPartition, records: list[Any]
    ) -> None:
        for record in records:
            if self._stopping:
                break
            message = Message(
                topic=record.topic,
                key=record.key,
                value=record.value or b"",
                headers=tuple(record.headers or ()),
                partition=record.partition,
                offset=record.offset,
            )
            try:
                await self._handler(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Not handled: rewind so the message is delivered again after a pause.
                log.exception("handler raised; message will be redelivered",
                              topic=message.topic, partition=message.partition,
                              offset=message.offset)
                consumer.seek(tp, record.offset)
                await asyncio.sleep(1.0)
                break
            # Committed once per fetched batch, after every message in it was handled.
            self._uncommitted[tp] = record.offset + 1
