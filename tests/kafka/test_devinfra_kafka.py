"""The local Kafka broker of tools/devinfra really starts, round-trips a message and stops."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devinfra.kafka import KafkaBroker, create_topics_async, list_topics, start_kafka

pytestmark = pytest.mark.kafka


async def _round_trip(bootstrap: str, topic: str, value: bytes) -> tuple[bytes, bytes]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k1")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
    finally:
        await consumer.stop()
    return record.key, record.value


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


async def test_own_broker_round_trip(tmp_path: Path) -> None:
    broker = await asyncio.to_thread(start_kafka, tmp_path)
    try:
        assert broker.bootstrap_servers.startswith("127.0.0.1:")
        assert (broker.log_dir / "meta.properties").is_file()
        await create_topics_async(broker.bootstrap_servers, ["devinfra.own"], partitions=3)
        key, value = await _round_trip(broker.bootstrap_servers, "devinfra.own", b"hello")
        assert (key, value) == (b"k1", b"hello")
    finally:
        await asyncio.to_thread(broker.stop)
    assert not broker.is_running()
    assert broker.port is not None
    assert not _accepts(broker.host, broker.port)
    assert "Kafka Server started" in broker.log_file.read_text()  # the broker really logs


async def test_session_broker_round_trips_on_a_created_topic(kafka_broker: KafkaBroker) -> None:
    topic = f"devinfra.created.{uuid.uuid4().hex[:8]}"
    await create_topics_async(kafka_broker.bootstrap_servers, [topic])
    key, value = await _round_trip(kafka_broker.bootstrap_servers, topic, b"auto")
    assert (key, value) == (b"k1", b"auto")
    assert topic in list_topics(kafka_broker.bootstrap_servers)


async def test_create_topics_is_idempotent(kafka_broker: KafkaBroker) -> None:
    names = ["devinfra.a", "devinfra.b"]
    await create_topics_async(kafka_broker.bootstrap_servers, names, partitions=2)
    await create_topics_async(kafka_broker.bootstrap_servers, names, partitions=2)
    assert set(names) <= set(list_topics(kafka_broker.bootstrap_servers))
