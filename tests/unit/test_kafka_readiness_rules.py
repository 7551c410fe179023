"""What the Kafka bus reports to /readyz, from the cluster metadata it last fetched."""

from __future__ import annotations

import time
from typing import Any

from aiokafka import TopicPartition

from mashcore.kafka_bus import KafkaBus


class FakeMetadata:
    """Cluster metadata as aiokafka's ClusterMetadata answers it."""

    def __init__(self, leaders: dict[str, dict[int, int]]) -> None:
        self._leaders = leaders

    def topics(self) -> set[str]:
        return set(self._leaders)

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self._leaders[topic]) if topic in self._leaders else None

    def leader_for_partition(self, tp: TopicPartition) -> int | None:
        return self._leaders.get(tp.topic, {}).get(tp.partition)


def bus_with(metadata: Any, fetched_ago: float | None) -> KafkaBus:
    bus = KafkaBus("127.0.0.1:1", client_id="test", health_interval=5.0)
    bus._producer = object()  # type: ignore[assignment]
    bus._metadata = metadata
    bus._metadata_at = None if fetched_ago is None else time.monotonic() - fetched_ago
    return bus


def test_topics_whose_partitions_all_have_a_leader_are_ready_even_on_broker_0() -> None:
    bus = bus_with(FakeMetadata({"a": {0: 0, 1: 1}, "b": {0: 2}}), fetched_ago=1)
    assert bus.problems(["a", "b"]) == []


def test_a_missing_topic_and_a_leaderless_partition_are_named() -> None:
    bus = bus_with(FakeMetadata({"a": {0: 0, 1: -1}}), fetched_ago=1)
    assert bus.problems(["a", "b"]) == ["kafka topic b does not exist",
                                        "kafka topic a: partitions [1] have no leader"]


def test_no_answer_from_any_broker_for_three_intervals_is_reported() -> None:
    bus = bus_with(FakeMetadata({"a": {0: 0}}), fetched_ago=16)
    assert bus.problems(["a"]) == ["kafka: no broker answered for 15 s"]
    assert bus_with(None, fetched_ago=None).problems(["a"]) == [
        "kafka: no broker answered for 15 s"]
