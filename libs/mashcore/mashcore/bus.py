"""The bus interface. Two implementations: Kafka (aiokafka) and embedded (durable SQLite log)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from mashcore.messages import Message

MessageHandler = Callable[[Message], Awaitable[None]]
"""Processes one message. Returning means it is done with (processed or dead-lettered) and its
offset may be committed; raising means it must be delivered again."""


class Subscription(Protocol):
    """A consumer group reading some topics, committing after each handled batch."""

    async def start(self) -> None:
        """Begin consuming in the background."""

    async def stop(self) -> None:
        """Stop consuming; offsets of handled messages are committed."""

    def problems(self) -> list[str]:
        """Why it is not consuming now (empty when it is): for /readyz."""


class Bus(Protocol):
    """Publish and subscribe, with at-least-once delivery and per-key ordering."""

    async def start(self) -> None:
        """Connect."""

    async def stop(self) -> None:
        """Flush and disconnect."""

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Make sure the topics can be used (Kafka only checks: topics are declared in the
        deployment, never created by a service)."""

    def problems(self, topics: Sequence[str]) -> list[str]:
        """Why publishing to or reading these topics would fail now (empty when it would
        not): for /readyz."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish all messages durably, in order per key; raise if any was not acknowledged."""

    def subscribe(self, group: str, topics: Sequence[str], handler: MessageHandler, *,
                  from_now: bool = False) -> Subscription:
        """A subscription for a consumer group; call its start(). A new group reads from the
        beginning (nothing lost), or, ``from_now``, only what is published from now on (a
        live view that need not replay history)."""
