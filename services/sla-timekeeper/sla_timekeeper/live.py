"""Pushing the dashboard live: every SLA event on mash.sla.v1 wakes the connected browsers,
which get a fresh summary (Server-Sent Events). Each replica follows the topic itself (a
feed, not a shared consumer group), so every browser sees every event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from mashcore.messages import Message
from mashcore.service import ServiceContext


class Broadcaster:
    """Wakes every waiting stream when something happened."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def wake(self) -> None:
        for event in list(self._waiters):
            event.set()


BROADCASTERS: dict[int, Broadcaster] = {}


def broadcaster(ctx: ServiceContext) -> Broadcaster:
    """The broadcaster of one service instance (one per app)."""
    return BROADCASTERS.setdefault(id(ctx), Broadcaster())


def feed_handler(ctx: ServiceContext) -> Callable[[Message], Awaitable[None]]:
    """The SLA topic feed: any message wakes this instance's streams."""
    hub = broadcaster(ctx)

    async def on_message(_message: Message) -> None:
        hub.wake()

    return on_message
