"""Which messages wake the live dashboard: every SLA event, and a notification's outcome
(sent or failed: the undelivered notices), not the notifications topic's other events."""

from __future__ import annotations

from typing import cast

from mashcore.messages import Message
from mashcore.service import ServiceContext
from sla_timekeeper import live


def message(topic: str, ce_type: str) -> Message:
    return Message(topic=topic, key=b"MASH-2026-AAAAAAAA", value=b"{}",
                   headers=(("ce_type", ce_type.encode()),))


async def test_sla_events_and_notification_outcomes_wake_the_dashboard_others_do_not() -> None:
    ctx = cast(ServiceContext, object())  # the broadcaster is keyed by the instance only
    hub = live.broadcaster(ctx)
    on_message = live.feed_handler(ctx)
    for topic, ce_type, wakes in [
        ("mash.sla.v1", "mash.sla.clock.breached.v1", True),
        ("mash.notifications.v1", "mash.notifications.notification.failed.v1", True),
        ("mash.notifications.v1", "mash.notifications.notification.sent.v1", True),
        ("mash.notifications.v1", "mash.notifications.webhook.registered.v1", False),
    ]:
        before = hub.generation
        await on_message(message(topic, ce_type))
        assert (hub.generation > before) is wakes, ce_type
    live.BROADCASTERS.pop(id(ctx))
