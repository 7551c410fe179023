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
    await bus.publish([Message(topic, keys[0].encode(), b"new", ())])
    second = bus.subscribe(f"{namespace}group", [topic], record)
    await second.start()
    try:
        async def the_new_one() -> bool:
            return b"new" in seen

        await eventually(the_new_one, timeout=30, what="the new record")
    finally:
        await second.stop()
    assert seen == [b"new"]
