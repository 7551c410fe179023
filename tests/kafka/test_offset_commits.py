"""A failed offset commit never skips records already fetched for other partitions (issue 13)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError

from devinfra.kafka import create_topics_async
from mashcore.kafka_bus import KafkaBus
from mashcore.messages import Message
from tests.kafka.test_parking import partition_of, references
from tests.support import eventually


@pytest.fixture
async def bus(kafka_broker: Any) -> AsyncIterator[KafkaBus]:
    bus = KafkaBus(kafka_broker.bootstrap_servers, client_id="test-commits")
    await bus.start()
    yield bus
    await bus.stop()


async def only_the_new_one_comes(bus: KafkaBus, namespace: str, topic: str, key: bytes,
                                  record: Any, seen: list[bytes]) -> None:
    """A new member of the group, after a new record is published, gets that record alone:
    nothing handled before comes back."""
    await bus.publish([Message(topic, key, b"new", ())])
    second = bus.subscribe(f"{namespace}group", [topic], record)
    await second.start()
    try:
        async def the_new_one() -> bool:
            return b"new" in seen

        await eventually(the_new_one, timeout=30, what="the new record")
    finally:
        await second.stop()
    assert seen == [b"new"]


async def test_a_failed_commit_does_not_skip_the_other_partitions_fetched_records(
    bus: KafkaBus, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"{namespace}commits"
    await create_topics_async(bus.bootstrap_servers, [topic],
                              partitions=2)
    keys = [*references(0, 3, "C"), *references(1, 3, "D")]
    assert {partition_of(k) for k in keys} == {0, 1}
    # Both partitions have records before the group starts, so one fetch brings both.
    await bus.publish([Message(topic, k.encode(), k.encode(), ()) for k in keys])

    real_commit = AIOKafkaConsumer.commit
    refused: list[Any] = []

    async def commit_refused_once(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        if not refused:
            refused.append(offsets)
            raise CommitFailedError("injected: the group rebalanced during the commit")
        await real_commit(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", commit_refused_once)
    seen: list[bytes] = []

    async def record(message: Message) -> None:
        seen.append(message.value)

    first = bus.subscribe(f"{namespace}group", [topic], record)
    await first.start()
    try:
        async def all_handled() -> bool:
            return set(seen) == {k.encode() for k in keys}

        await eventually(all_handled, timeout=30, what="every fetched record handled")
    finally:
        await first.stop()
    assert refused, "the commit failure was injected"

    # The offsets were committed after all (with the next commit): a new member of the group
    # gets only what is new, nothing handled before comes back.
    seen.clear()
    await only_the_new_one_comes(bus, namespace, topic, keys[0].encode(), record, seen)


async def test_offsets_are_committed_every_interval_not_every_poll_and_when_stopping(
    bus: KafkaBus, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each commit is a request to the broker (issue 17): handled offsets wait for the next
    interval, and a consumer stopping commits what it handled, so nothing comes back."""
    from mashcore import kafka_bus

    monkeypatch.setattr(kafka_bus, "COMMIT_EVERY_S", 3600.0)  # no interval passes here
    topic = f"{namespace}intervals"
    await create_topics_async(bus.bootstrap_servers, [topic], partitions=1)
    real_commit = AIOKafkaConsumer.commit
    commits: list[Any] = []

    async def counted(self: AIOKafkaConsumer, offsets: Any = None) -> None:
        commits.append(dict(offsets or {}))
        await real_commit(self, offsets)

    monkeypatch.setattr(AIOKafkaConsumer, "commit", counted)
    seen: list[bytes] = []

    async def record(message: Message) -> None:
        seen.append(message.value)

    first = bus.subscribe(f"{namespace}group", [topic], record)
    await first.start()
    try:
        for n in range(3):  # three publishes, each handled before the next: several polls
            await bus.publish([Message(topic, b"k", f"m{n}".encode(), ())])

            async def handled(count: int = n + 1) -> bool:
                return len(seen) == count

            await eventually(handled, timeout=30, what=f"message {n} handled")
        assert commits == []  # handled, but not yet committed: the interval has not passed
    finally:
        await first.stop()
    assert [list(c.values()) for c in commits] == [[3]]  # once, when stopping: all three

    seen.clear()
    await only_the_new_one_comes(bus, namespace, topic, b"k", record, seen)
