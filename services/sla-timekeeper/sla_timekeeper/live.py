"""Pushing the dashboard live: every SLA event on mash.sla.v1 (and every notification sent
or failed on mash.notifications.v1: the undelivered notices) wakes the connected browsers,
which get a fresh summary (Server-Sent Events). Each replica follows the topic itself (a
feed, not a shared consumer group), so every browser sees every event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from mashcore.messages import Message
from mashcore.service import ServiceContext


class TooManyStreams(Exception):
    """This instance already serves as many live dashboards as it may."""


class Broadcaster:
    """Wakes every waiting stream when something happened, and computes each summary once
    for all the streams that are waiting for it (a storm of events, with many dashboards
    open, costs one query per scope at a time, not one per browser per event)."""

    def __init__(self, max_streams: int = 200) -> None:
        self._waiters: set[asyncio.Event] = set()
        self._max_streams = max_streams
        self.generation = 0  # how many wake-ups so far
        self._cache: dict[Hashable, tuple[int, float, Any]] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    def subscribe(self) -> asyncio.Event:
        if self.full:
            raise TooManyStreams
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def wake(self) -> None:
        self.generation += 1
        for event in list(self._waiters):
            event.set()

    @property
    def full(self) -> bool:
        return len(self._waiters) >= self._max_streams

    async def latest(self, key: Hashable, compute: Callable[[], Any],
                     max_age: float = 1.0) -> Any:
        """``compute()`` (run in a thread) as of now: shared by every stream that asks with
        the same key after the same wake-up, and never older than ``max_age`` seconds
        (time moves the countdowns and "today" even when no event arrives)."""
        wanted = self.generation
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._cache.get(key)
            if (cached is not None and cached[0] >= wanted
                    and time.monotonic() - cached[1] < max_age):
                return cached[2]
            generation, computed_at = self.generation, time.monotonic()
            value = await asyncio.to_thread(compute)
            self._cache[key] = (generation, computed_at, value)
            return value


BROADCASTERS: dict[int, Broadcaster] = {}
OUTCOMES = ("mash.notifications.notification.sent.v1",
            "mash.notifications.notification.failed.v1")


def broadcaster(ctx: ServiceContext) -> Broadcaster:
    """The broadcaster of one service instance (one per app)."""
    return BROADCASTERS.setdefault(id(ctx), Broadcaster())


def feed_handler(ctx: ServiceContext) -> Callable[[Message], Awaitable[None]]:
    """The SLA topic feed: any SLA event, or a notification's outcome, wakes this
    instance's streams (the notifications topic's other events change nothing shown)."""
    hub = broadcaster(ctx)

    async def on_message(message: Message) -> None:
        kind = message.header("ce_type") or ""
        if not kind.startswith("mash.notifications.") or kind in OUTCOMES:
            hub.wake()

    return on_message
