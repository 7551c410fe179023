"""Kafka mode, every service: with none of its topics on the broker, each of the six still
starts (a consumer of a missing topic used to fail the start with aiokafka's
UnknownTopicOrPartitionError), says so on /readyz naming each topic it uses, creates none of
them, and becomes ready once the operator creates them (issue 13 §3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devinfra.kafka import create_topics_async, list_topics
from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.kafka_bus import KafkaBus
from mashcore.settings import Settings
from mashcore.topics import PARTITIONS
from mashcore.topology import topics_of
from tests.support import eventually, running_services


async def test_every_service_without_its_topics_is_unready_naming_each_and_creates_none(
    kafka_broker: Any, namespace: str, tmp_path: Path
) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    names = sorted(SERVICE_MODULES)
    wanted = {d.name: [f"{namespace}{t}" for t in topics_of(d)]
              for d in iter_definitions(names)}
    settings = Settings(bus="kafka", kafka_bootstrap=bootstrap, topic_namespace=namespace,
                        data_dir=tmp_path, jwt_dev_key="readiness-test")
    bus = KafkaBus(bootstrap, client_id="readiness-test", health_interval=0.5)
    await bus.start()
    try:
        async with running_services(settings, names, bus) as clients:
            for name, client in clients.items():
                if not wanted[name]:  # a service without topics yet (notifications)
                    continue
                async def names_its_topics(client: Any = client,
                                           name: str = name) -> list[str] | None:
                    answer = await client.get("/readyz")
                    assert answer.status_code == 503, (name, answer.text)
                    problems = answer.json().get("problems", [])
                    expected = [f"kafka topic {t} does not exist" for t in wanted[name]]
                    return problems if all(p in problems for p in expected) else None
                await eventually(names_its_topics, timeout=60, what=f"{name} /readyz")
            every = sorted({t for topics in wanted.values() for t in topics})
            assert not set(list_topics(bootstrap)) & set(every)

            # The operator creates them: every service becomes ready, without a restart.
            await create_topics_async(bootstrap, every, partitions=PARTITIONS)
            for name, client in clients.items():
                async def ready(client: Any = client) -> bool:
                    return (await client.get("/readyz")).status_code == 200
                await eventually(ready, timeout=120, what=f"{name} ready once its topics exist")
    finally:
        await bus.stop()
