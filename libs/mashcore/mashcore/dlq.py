"""``mash dlq list|show|replay TOPIC`` and ``mash parked``: what the consumers gave up on, and
what waits for what, for the engineer on call.

Only codes and ids are printed: event id, type, case reference, reason, consumer, where the
event came from and when it failed. Never the event's body (it is a referral), and a header
that does not look like the code it should be is shown as ``?`` (a poison message can carry
anything). A replay republishes the original bytes and CloudEvents headers, without the
``dlq_*`` headers, to the original topic; consumers' inboxes make a replay of an event
already applied harmless, so replaying twice has the effect of replaying once.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy import inspect

from mashcore.bus import Bus
from mashcore.db import make_engine
from mashcore.embedded_bus import EmbeddedBus
from mashcore.messages import Message
from mashcore.parking import list_parked
from mashcore.settings import Settings
from mashcore.topics import DEAD_LETTER_SUFFIX, TopicNamer

_CASE_REFERENCE = re.compile(r"^MASH-[0-9]{4}-[A-Z0-9]{8}$")
_CODE = re.compile(r"^[A-Za-z0-9._:\-+/]{1,200}$")
_TIME = re.compile(r"^[0-9T:.+\-Z ]{10,40}$")


def _shown(value: str | None, pattern: re.Pattern[str]) -> str:
    if value is None:
        return "-"
    return value if pattern.match(value) else "?"


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as far as it may be shown."""

    message: Message

    @property
    def position(self) -> str:
        """Where it is on the dead-letter topic: ``partition:offset``."""
        return f"{self.message.partition}:{self.message.offset}"

    def describe(self) -> dict[str, str]:
        """Codes and ids only, never the value."""
        m = self.message
        reason = (m.header("dlq_reason") or "-").replace("\n", " ")[:300]
        return {
            "position": self.position,
            "event_id": _shown(m.header("ce_id"), _CODE),
            "type": _shown(m.header("ce_type"), _CODE),
            "case_reference": _shown(m.header("ce_subject"), _CASE_REFERENCE),
            "reason": reason,
            "consumer": _shown(m.header("dlq_consumer"), _CODE),
            "original": (f"{_shown(m.header('dlq_original_topic'), _CODE)}:"
                         f"{_shown(m.header('dlq_original_partition'), _CODE)}:"
                         f"{_shown(m.header('dlq_original_offset'), _CODE)}"),
            "failed_at": _shown(m.header("dlq_failed_at"), _TIME),
        }

    def replay_message(self) -> Message:
        """The original message: same key, bytes and headers, without the dlq_* headers."""
        m = self.message
        original = m.header("dlq_original_topic")
        if not original:
            raise ValueError(f"{self.position} has no dlq_original_topic header")
        return Message(topic=original, key=m.key, value=m.value,
                       headers=tuple((k, v) for k, v in m.headers if not k.startswith("dlq_")))


def dead_letter_topic_name(settings: Settings, topic: str) -> str:
    """The physical dead-letter topic for a topic given with or without ``.dlq``."""
    name = topic if topic.endswith(DEAD_LETTER_SUFFIX) else f"{topic}{DEAD_LETTER_SUFFIX}"
    return TopicNamer(settings.topic_namespace)(name)


async def read_dead_letters(settings: Settings, topic: str) -> list[DeadLetter]:
    """Everything on the dead-letter topic now, without joining any consumer group."""
    physical = dead_letter_topic_name(settings, topic)
    if settings.bus == "kafka":
        return [DeadLetter(m) for m in await _read_kafka(settings, physical)]
    bus = EmbeddedBus(settings.data_dir / "bus.sqlite")
    await bus.start()
    try:
        return [DeadLetter(m) for m in await bus.read_topic(physical)]
    finally:
        await bus.stop()


async def _read_kafka(settings: Settings, topic: str) -> list[Message]:
    from aiokafka import AIOKafkaConsumer

    probe = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await probe.start()
    try:
        if topic not in await probe.topics():
            return []  # never create a dead-letter topic by looking at it
    finally:
        await probe.stop()
    # No group: every partition is assigned to this reader and no offsets are committed.
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        tps = sorted(consumer.assignment())
        if not tps:
            return []
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        messages: list[Message] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                messages.extend(
                    Message(topic=r.topic, key=r.key, value=r.value or b"",
                            headers=tuple(r.headers or ()), partition=r.partition,
                            offset=r.offset)
                    for r in records if r.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return sorted(messages, key=lambda m: (m.partition or 0, m.offset or 0))
    finally:
        await consumer.stop()


def select_dead_letters(letters: Sequence[DeadLetter], position: str) -> list[DeadLetter]:
    """``partition:offset``, or an offset alone when only one partition has it."""
    if ":" in position:
        return [d for d in letters if d.position == position]
    return [d for d in letters if str(d.message.offset) == position]


def print_dead_letters(letters: Sequence[DeadLetter], out: TextIO | None = None) -> None:
    """One line per dead letter."""
    out = out or sys.stdout
    if not letters:
        print("no dead letters", file=out)
        return
    print("position  event_id  type  case_reference  consumer  original(topic:partition:offset)"
          "  failed_at  reason", file=out)
    for letter in letters:
        d = letter.describe()
        print(f"{d['position']}  {d['event_id']}  {d['type']}  {d['case_reference']}  "
              f"{d['consumer']}  {d['original']}  {d['failed_at']}  {d['reason']}", file=out)


def print_dead_letter(letter: DeadLetter, out: TextIO | None = None) -> None:
    """One dead letter, field by field (the value's size, never the value)."""
    out = out or sys.stdout
    for name, value in letter.describe().items():
        print(f"{name:<15} {value}", file=out)
    print(f"{'value':<15} {len(letter.message.value)} bytes (not shown)", file=out)


async def replay(bus: Bus, letters: Sequence[DeadLetter]) -> int:
    """Republish the originals, in order; returns how many."""
    messages = [letter.replay_message() for letter in letters]
    if messages:
        await bus.publish(messages)
    return len(messages)


@dataclass(frozen=True)
class ParkedLine:
    """One parked event of one service, for ``mash parked``."""

    service: str
    consumer: str
    case_reference: str
    event_type: str
    waiting_for: str
    since: str
    attempts: int
    last_error: str


def parked_events(settings: Settings, services: Sequence[str]) -> list[ParkedLine]:
    """The parked events in the services' databases (a database without the table, or a
    SQLite file not created yet, has none)."""
    lines: list[ParkedLine] = []
    seen: set[str] = set()
    for service in services:
        url = settings.database_url_for(service)
        if url in seen:
            continue
        seen.add(url)
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            continue  # never create a service's database by looking at it
        engine = make_engine(url)
        try:
            if not inspect(engine).has_table("parked_event"):
                continue
            for p in list_parked(engine):
                lines.append(ParkedLine(
                    service=service, consumer=p.consumer, case_reference=p.case_reference,
                    event_type=p.event_type, waiting_for=p.waiting_for,
                    since=p.parked_at.isoformat(timespec="seconds"), attempts=p.attempts,
                    last_error=p.last_error or "-"))
        finally:
            engine.dispose()
    return lines


def print_parked(lines: Sequence[ParkedLine], out: TextIO | None = None) -> None:
    """One line per parked event, oldest first per service."""
    out = out or sys.stdout
    if not lines:
        print("no parked events", file=out)
        return
    print("consumer  case_reference  event_type  waiting_for  since  attempts  last_error",
          file=out)
    for p in lines:
        print(f"{p.consumer}  {p.case_reference}  {p.event_type}  {p.waiting_for}  {p.since}  "
              f"{p.attempts}  {p.last_error}", file=out)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``mash dlq ...`` and ``mash parked`` (hooked into cli.main)."""
    dlq = sub.add_parser("dlq", help="dead-lettered events: list, show, replay (codes and ids "
                         "only, never the event's content)")
    actions = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = actions.add_parser("list", help="every dead letter of a topic")
    listing.add_argument("topic", help="e.g. mash.triage.cases.v1 (or its .dlq topic)")
    show = actions.add_parser("show", help="one dead letter")
    show.add_argument("topic")
    show.add_argument("offset", help="OFFSET, or PARTITION:OFFSET as `mash dlq list` shows")
    again = actions.add_parser("replay", help="republish to the original topic (idempotent: "
                               "consumers skip what they already applied)")
    again.add_argument("topic")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--offset", help="OFFSET or PARTITION:OFFSET")
    which.add_argument("--all", action="store_true", help="every dead letter of the topic")
    sub.add_parser("parked", help="events waiting for a prerequisite, in every service's "
                   "database: consumer, case reference, what it waits for, since, attempts")


def run(args: argparse.Namespace, settings: Settings, out: TextIO | None = None, *,
        services: Sequence[str]) -> int:
    """Carry out ``mash dlq ...`` or ``mash parked`` (over ``services``, by name); the exit
    status."""
    out = out or sys.stdout
    if args.command == "parked":
        print_parked(parked_events(settings, services), out)
        return 0
    letters = asyncio.run(read_dead_letters(settings, args.topic))
    if args.dlq_command == "list":
        print_dead_letters(letters, out)
        return 0
    position = args.offset
    chosen = list(letters) if position is None else select_dead_letters(letters, position)
    if position is not None and len(chosen) != 1:
        found = "no dead letter" if not chosen else "several (give PARTITION:OFFSET)"
        print(f"mash: {found} at {position} on {dead_letter_topic_name(settings, args.topic)}",
              file=sys.stderr)
        return 1
    if args.dlq_command == "show":
        print_dead_letter(chosen[0], out)
        return 0
    count = asyncio.run(_replay_with_bus(settings, chosen))
    print(f"replayed {count} event(s) to their original topics", file=out)
    return 0


async def _replay_with_bus(settings: Settings, letters: Sequence[DeadLetter]) -> int:
    from mashcore.cli import make_bus  # the composition root's choice of bus

    bus = make_bus(settings, client_id="mash-dlq-replay")
    await bus.start()
    try:
        return await replay(bus, letters)
    finally:
        await bus.stop()
