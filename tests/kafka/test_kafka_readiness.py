"""Kafka mode: services never create topics, and /readyz says what on Kafka is missing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devinfra.kafka import create_topics_async, list_topics
from mashcore.kafka_bus import KafkaBus
from mashcore.settings import Settings
from mashcore.topics import PARTITIONS
from mashcore.topology import topics_of
from tests.support import eventually, running_services
from triage.service import SERVICE as TRIAGE


async def test_a_missing_topic_keeps_a_service_unready_naming_it_and_is_never_created(
    kafka_broker: Any, namespace: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    wanted = [f"{namespace}{topic}" for topic in topics_of(TRIAGE)]
    missing = f"{namespace}mash.intake.contacts.v1.dlq"
    assert missing in wanted
    await create_topics_async(bootstrap, [t for t in wanted if t != missing],
                              partitions=PARTITIONS)
    settings = Settings(bus="kafka", kafka_bootstrap=bootstrap, topic_namespace=namespace,
                        data_dir=tmp_path, jwt_dev_key="readiness-test")
    bus = KafkaBus(bootstrap, client_id="readiness-test", health_interval=0.5)
    await bus.start()
    try:
        async with running_services(settings, ["triage"], bus) as clients:
            triage = clients["triage"]
            not_ready = await triage.get("/readyz")
            assert not_ready.status_code == 503
            assert f"kafka topic {missing} does not exist" in not_ready.json()["problems"]
            assert missing not in list_topics(bootstrap)

            await create_topics_async(bootstrap, [missing], partitions=PARTITIONS)

            async def ready() -> bool:
                return (await triage.get("/readyz")).status_code == 200

            await eventually(ready, timeout=60, what="triage ready once its topic exists")
    finally:
        await bus.stop()
