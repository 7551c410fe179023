"""Kafka bus on aiokafka: idempotent producer, manual offset commits after processing."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.cluster import ClusterMetadata

from mashcore.bus import MessageHandler
from mashcore.lograte import Outage, limit_kafka_client_logs
from mashcore.messages import Message
from mashcore.tap import record_published

log = structlog.get_logger(__name__)

# Shutdown budgets (seconds): every stop is bounded, so a service stops within 10 s even
# while the broker is unreachable (a flush or a leave-group request would otherwise wait out
# aiokafka's 40 s request timeout, or for ever).
CONSUMER_STOP_S = 2.0
HANDLER_FINISH_S = 4.0
FIRST_START_S = 5.0  # a consumer not started by then is started in the background
PRODUCER_STOP_S = 2.0
# Handled offsets are committed at most this often (and when the consumer stops), not after
# every poll: each commit is a request to the broker, and under load a poll is a few events
# (issue 17). What a crash or a rebalance leaves uncommitted is delivered again, and the
# inbox makes it harmless, as it always has between a transaction and its offset commit.
COMMIT_EVERY_S = 0.5
# Records fetched per poll, across the member's partitions (issue 17): a backlog is applied
# in batches of up to MASH_CONSUMER_BATCH, not the 60-odd a poll of 200 split over three
# partitions gave. Under a light load a poll holds what has arrived, as before.
MAX_POLL_RECORDS = 1000


class KafkaBus:
    """Publishes with an idempotent producer and hands out manually committed subscriptions.

    Topics are never created here: compose's topic job, Strimzi's KafkaTopics or the test
    set-up create them (one partition count, ``mashcore.topics.PARTITIONS``). A background
    check fetches the cluster's metadata every ``health_interval`` seconds; ``problems``
    reads it for /readyz (broker unreachable, a topic missing or without a leader).
    """

    def __init__(self, bootstrap_servers: str, *, client_id: str,
                 client_options: dict[str, Any] | None = None,
                 health_interval: float = 5.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        # Security settings (TLS, SASL) for every client: see mashcore.kafka_security.
        self.client_options = dict(client_options or {})
        self.health_interval = health_interval
        self._producer: AIOKafkaProducer | None = None
        self._metadata: ClusterMetadata | None = None
        self._metadata_at: float | None = None  # monotonic time of the last good fetch
        self._health_task: asyncio.Task[None] | None = None
        limit_kafka_client_logs()  # aiokafka logs every reconnect attempt while Kafka is down

    async def start(self) -> None:
        """Connect the producer and start watching the cluster's metadata."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=self.client_id,
            enable_idempotence=True,  # broker de-duplicates producer retries; implies acks=all
            acks="all",  # a send is acknowledged only once every in-sync replica has it
            linger_ms=5,  # small wait lets the relay's batch share requests
            max_batch_size=1024 * 1024,
            **self.client_options,
        )
        await self._producer.start()
        await self.refresh_metadata()
        self._health_task = asyncio.create_task(self._watch_metadata(), name="kafka-health")

    async def stop(self) -> None:
        """Flush and close the producer (bounded: unsent messages stay in the outbox)."""
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
            self._health_task = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            try:
                await asyncio.wait_for(producer.stop(), PRODUCER_STOP_S)
            except TimeoutError:
                log.warning("kafka producer did not close in time; stopping anyway",
                            seconds=PRODUCER_STOP_S)

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Check the topics exist; never create them (a missing topic: not ready)."""
        await self.refresh_metadata()
        missing = self.missing_topics(topics)
        if missing:
            log.error("kafka topics missing; not ready until they are created",
                      topics=missing)

    async def refresh_metadata(self) -> bool:
        """Fetch the cluster's metadata now; False if no broker answered."""
        if self._producer is None:
            return False
        try:
            async with asyncio.timeout(self.health_interval):
                self._metadata = await self._producer.client.fetch_all_metadata()
        except Exception:
            return False
        self._metadata_at = time.monotonic()
        return True

    async def _watch_metadata(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            await self.refresh_metadata()

    def missing_topics(self, topics: Sequence[str]) -> list[str]:
        """The topics the last metadata did not list."""
        known = self._metadata.topics() if self._metadata is not None else set()
        return [t for t in dict.fromkeys(topics) if t not in known]

    def problems(self, topics: Sequence[str]) -> list[str]:
        """Why the relay could not publish to (or a consumer read) these topics now."""
        if self._producer is None:
            return ["kafka: not connected"]
        stale_after = 3 * self.health_interval
        if self._metadata_at is None or time.monotonic() - self._metadata_at > stale_after:
            return [f"kafka: no broker answered for {stale_after:.0f} s"]
        problems = [f"kafka topic {t} does not exist" for t in self.missing_topics(topics)]
        assert self._metadata is not None
        for topic in topics:
            partitions = self._metadata.partitions_for_topic(topic) or set()
            leaders = {p: self._metadata.leader_for_partition(TopicPartition(topic, p))
                       for p in partitions}
            # Broker ids start at 0 (Strimzi's do): only None or -1 means no leader.
            leaderless = sorted(p for p, leader in leaders.items()
                                if leader is None or leader < 0)
            if leaderless:
                problems.append(f"kafka topic {topic}: partitions {leaderless} have no leader")
        return problems

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
                                 from_now=from_now, client_options=self.client_options)


class KafkaSubscription:
    """Consumes batches; commits a partition's offset only after its messages are handled."""

    def __init__(
        self, bootstrap_servers: str, group: str, topics: list[str], handler: MessageHandler,
        *, from_now: bool = False, client_options: dict[str, Any] | None = None,
    ) -> None:
        self._from_now = from_now
        self._client_options = dict(client_options or {})
        self._bootstrap = bootstrap_servers
        self._group = group
        self._topics = topics
        self._handler = handler
        # A handler that applies batches (EventConsumer: batch_size > 1) gets a poll's records
        # in calls of up to batch_size; any other gets them one by one.
        self._batch_size = int(getattr(handler, "batch_size", 1))
        self._handle_batch = (getattr(handler, "handle_batch", None)
                              if self._batch_size > 1 else None)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Offsets handled but not yet committed (a commit failed): committed with the next.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._outage = Outage(log, "consumer loop error; continuing", group=self._group)

    async def start(self) -> None:
        """Join the group and consume in the background. A topic that does not exist yet
        (never auto-created) or a broker that does not answer does not fail the service's
        start: the consumer is started again every second until it can be, and meanwhile
        ``problems()`` (so /readyz, beside the missing topic's name) says it is not running."""
        try:
            self._consumer = await asyncio.wait_for(self._started_consumer(), FIRST_START_S)
        except Exception as error:
            self._outage.failed(error)
            self._task = asyncio.create_task(self._start_later(), name=f"consume-{self._group}")
            return
        self._task = asyncio.create_task(self._run(), name=f"consume-{self._group}")

    async def _start_later(self) -> None:
        while not self._stopping:
            await asyncio.sleep(1.0)
            try:
                self._consumer = await self._started_consumer()
            except Exception as error:
                self._outage.failed(error)
                continue
            self._outage.recovered()
            await self._run()
            return

    async def _started_consumer(self) -> AIOKafkaConsumer:
        consumer = AIOKafkaConsumer(
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
            # Topics created after start (by the operator) are picked up within 30 s.
            metadata_max_age_ms=30_000,
            **self._client_options,
        )
        try:
            await consumer.start()
        except BaseException:  # a topic missing, no broker, or cancelled: let it go
            with contextlib.suppress(Exception):
                await asyncio.wait_for(consumer.stop(), CONSUMER_STOP_S)
            raise
        return consumer

    async def stop(self) -> None:
        """Finish and commit the batch in hand, then leave the group (bounded; cancel as
        fallback: what was not committed is delivered again, and the inbox absorbs it)."""
        self._stopping = True
        if self._task is not None:
            _done, pending = await asyncio.wait({self._task}, timeout=HANDLER_FINISH_S)
            if pending:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer.stop(), CONSUMER_STOP_S)
            except TimeoutError:
                log.warning("kafka consumer did not leave its group in time; stopping anyway",
                            group=self._group, seconds=CONSUMER_STOP_S)
        self._task = None
        self._consumer = None

    def problems(self) -> list[str]:
        """Why this subscription is not consuming: not running, or in no group."""
        consumer, task = self._consumer, self._task
        if consumer is None or task is None or task.done():
            return [f"kafka consumer group {self._group}: not running"]
        # aiokafka has no public "joined" flag: a coordinator known and a generation
        # assigned mean the group has accepted this member (its assignment may be empty
        # when there are more replicas than partitions).
        coordinator = getattr(consumer, "_coordinator", None)
        joined = (coordinator is not None and coordinator.coordinator_id is not None
                  and coordinator.generation > 0)
        if not joined and not consumer.assignment():
            return [f"kafka consumer group {self._group}: not joined"]
        return []

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        committed_at = time.monotonic()
        while not self._stopping:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=MAX_POLL_RECORDS)
            except Exception as error:
                # While the broker is down this repeats every second: logged rate-limited.
                self._outage.failed(error)
                await asyncio.sleep(1.0)
                continue
            self._outage.recovered()
            if self._handle_batch is not None:
                try:
                    await self._handle_in_batches(consumer, batches)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("poll's batch failed; continuing", group=self._group)
            else:
                await self._handle_one_by_one(consumer, batches)
            if time.monotonic() - committed_at >= COMMIT_EVERY_S:
                await self._commit_pending(consumer)
                committed_at = time.monotonic()
        await self._commit_pending(consumer)  # stopping: what was handled

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

    async def _handle_one_by_one(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Any]]
    ) -> None:
        # Each partition's records on their own: a failure in one (a commit refused during a
        # rebalance) never skips the records already fetched for the others.
        for tp, records in batches.items():
            try:
                await self._handle_partition(consumer, tp, records)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("partition batch failed; continuing", group=self._group,
                              topic=tp.topic, partition=tp.partition)

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

    async def _handle_in_batches(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Any]]
    ) -> None:
        """A poll's records, every partition's, up to ``batch_size`` per call, each call one
        transaction (issue 17, mashcore/consumer_batch.py): partition after partition, each in
        offset order, as they were handled one partition at a time before; a poll of a few
        records per partition is one transaction, not one per partition. An offset moves
        past a record only once its call returned; a call that raised rewinds every partition
        to its first record not handled, so nothing fetched is skipped."""
        assert self._handle_batch is not None
        batch_size = self._batch_size
        polled = [(tp, record) for tp, records in batches.items() for record in records]
        for start in range(0, len(polled), batch_size):
            if self._stopping:
                break
            chunk = polled[start:start + batch_size]
            messages = [Message(topic=r.topic, key=r.key, value=r.value or b"",
                                headers=tuple(r.headers or ()), partition=r.partition,
                                offset=r.offset) for _tp, r in chunk]
            try:
                await self._handle_batch(messages)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("batch handler raised; its messages will be redelivered",
                              group=self._group, records=len(chunk))
                self._rewind(consumer, polled[start:])
                await asyncio.sleep(1.0)
                break
            for tp, record in chunk:  # each partition's records in order: the last one wins
                self._uncommitted[tp] = record.offset + 1

    @staticmethod
    def _rewind(consumer: AIOKafkaConsumer, unhandled: list[tuple[TopicPartition, Any]]) -> None:
        """Fetch again from each partition's first unhandled record (one still assigned: a
        partition moved to another member starts there from its last commit)."""
        first: dict[TopicPartition, int] = {}
        for tp, record in unhandled:
            first.setdefault(tp, record.offset)
        assigned = consumer.assignment()
        for tp, offset in first.items():
            if tp in assigned:
                consumer.seek(tp, offset)
