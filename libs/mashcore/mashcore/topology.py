"""What each service reads and writes on Kafka, read from its ``ServiceDefinition``.

One source for the runtime (which topics must exist before a service is ready), the
development launchers (which topics to create) and the deployment checks (which topics,
consumer groups and ACLs compose and Kubernetes must declare).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mashcore.topics import dead_letter_topic

if TYPE_CHECKING:
    from mashcore.service import ServiceDefinition


def _unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def consumed(definition: ServiceDefinition) -> list[str]:
    """Topics its consumers read (in a shared group, through the inbox)."""
    return _unique(t for spec in definition.consumers for t in spec.topics)


def reads(definition: ServiceDefinition) -> list[str]:
    """Every topic it reads: its consumers' and its live feeds'."""
    return _unique([*consumed(definition), *(t for f in definition.feeds for t in f.topics)])


def writes(definition: ServiceDefinition) -> list[str]:
    """Every topic it writes: what it produces, and the dead-letter topic of each it consumes."""
    return _unique([*definition.produces, *map(dead_letter_topic, consumed(definition))])


def topics_of(definition: ServiceDefinition) -> list[str]:
    """Every topic it reads or writes: each must exist before the service is ready."""
    return _unique([*writes(definition), *reads(definition)])


def consumer_groups(definition: ServiceDefinition) -> list[str]:
    """Its consumer groups (before any test namespace prefix)."""
    return [f"{definition.name}.{spec.name}" for spec in definition.consumers]


def feed_group_prefixes(definition: ServiceDefinition) -> list[str]:
    """Prefixes of its live feeds' groups (one fresh group per process start)."""
    return [f"{definition.name}.{feed.name}." for feed in definition.feeds]


def all_topics(definitions: Sequence[ServiceDefinition]) -> list[str]:
    """Every topic any of the services reads or writes."""
    return _unique(t for definition in definitions for t in topics_of(definition))
