"""``mash watch``: follow events on topics as they happen, for people trying the system and
for the engineer on call. One line per event: when, type, case reference, partnership, and
the few fields that say what happened (BRAG, route, level, deadlines, outcome). Free text and
personal data are never printed.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from collections.abc import Sequence
from typing import Any, TextIO

from mashcore.envelope import Event
from mashcore.messages import Message
from mashcore.settings import Settings
from mashcore.topics import TopicNamer

# Codes, states and times only: safe to print on a shared screen.
SHOWN_FIELDS = ("status", "agency", "brag", "new_brag", "previous_brag", "route", "new_route",
                "outcome", "level_of_need", "proceeding_without_consent", "late", "closed_early",
                "threshold_decision_due_at", "enquiries_due_at", "consent_revisit_due_at",
                "clock", "due_at", "percent_elapsed", "overdue_by_seconds", "on_time",
                "reason_code", "reason")
CODED_REASONS = {"open_case", "recent_involvement_12_weeks", "dash_missing"}


def describe(message: Message) -> str:
    """One line about one message; a message that is not an event says so."""
    try:
        event = Event.from_message(message)
    except Exception:
        return f"{message.topic}: a message that is not a readable event"
    shown: list[str] = []
    for name in SHOWN_FIELDS:
        value: Any = event.data.get(name)
        if value is None or (name == "reason" and value not in CODED_REASONS):
            continue
        if isinstance(value, dict) and "code" in value:
            value = f"{value['code']} ({value.get('name', '')})"
        shown.append(f"{name}={value}")
    return (f"{event.time.isoformat(timespec='seconds')}  {event.type}  {event.subject}  "
            f"[{event.partnership}]  {' '.join(shown)}").rstrip()


async def watch(settings: Settings, topics: Sequence[str], out: TextIO = sys.stdout) -> None:
    """Print every event on ``topics`` from the beginning, then follow until interrupted."""
    from mashcore.cli import make_bus  # the composition root's choice of bus

    bus = make_bus(settings, client_id="mash-watch")
    await bus.start()
    namer = TopicNamer(settings.topic_namespace)

    async def show(message: Message) -> None:
        print(describe(message), file=out, flush=True)

    # A fresh consumer group each time: watching never moves a service's offsets.
    subscription = bus.subscribe(f"mash-watch-{uuid.uuid4()}", [namer(t) for t in topics], show)
    await subscription.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await subscription.stop()
        await bus.stop()
