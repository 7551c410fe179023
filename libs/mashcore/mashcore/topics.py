"""Topic names. Versioned, one per stream of a service's events; keys are case references.

Every topic the services read or write is named here, and declared (with its dead-letter
topic, for consumed ones) in docker-compose.yml and deploy/k8s/kafka-topics.yaml with
``PARTITIONS`` partitions; tests/contract/test_deploy_artifacts.py checks that against the
services' definitions (``mashcore.topology``). In Kafka mode no service creates a topic.
"""

from __future__ import annotations

INTAKE_CONTACTS = "mash.intake.contacts.v1"
TRIAGE_CASES = "mash.triage.cases.v1"
ENQUIRIES_EPISODES = "mash.enquiries.episodes.v1"
SLA = "mash.sla.v1"
# Stages not built yet: intake's open-case index and the timekeeper already follow them.
STRATEGY_CASES = "mash.strategy.cases.v1"
NOTIFICATIONS = "mash.notifications.v1"

PARTITIONS = 6
"""Every topic's partition count, in compose, Kubernetes and the development broker."""

DEAD_LETTER_SUFFIX = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic paired with a topic."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


class TopicNamer:
    """Maps logical topic names to physical ones, with an optional namespace prefix.

    The prefix lets several isolated systems (or test runs) share one broker.
    """

    def __init__(self, namespace: str = "") -> None:
        self.namespace = namespace

    def __call__(self, topic: str) -> str:
        return f"{self.namespace}{topic}"
