"""Create the topics the services use, as compose's topic job and Strimzi's KafkaTopics do.

Services never create topics in Kafka mode, so the development launcher, the end-to-end
tests and the benchmarks create them first, from the services' definitions.
"""

from __future__ import annotations

from devinfra.kafka import create_topics
from mash_app.services import all_definitions
from mashcore.topics import PARTITIONS
from mashcore.topology import all_topics


def service_topics(namespace: str = "") -> list[str]:
    """Every topic a registered service reads or writes, with the namespace prefix."""
    return [f"{namespace}{topic}" for topic in all_topics(all_definitions())]


def create_service_topics(bootstrap: str, namespace: str = "") -> list[str]:
    """Create them (if missing) with the declared partition count; return their names."""
    names = service_topics(namespace)
    create_topics(bootstrap, names, partitions=PARTITIONS)
    return names
