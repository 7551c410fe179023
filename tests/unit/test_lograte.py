"""Repeating failures are logged once per outage and then at most once per interval."""

from __future__ import annotations

import logging
from typing import Any

from mashcore.lograte import Outage, RepeatFilter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def error(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))

    warning = error


def test_an_outage_is_logged_when_it_starts_every_interval_with_a_count_and_when_it_ends(
) -> None:
    clock, log = FakeClock(), RecordingLog()
    outage = Outage(log, "consumer loop error", every=30, clock=clock, group="g")
    for second in range(65):  # a failure every second for 65 s
        clock.now = float(second)
        outage.failed(ConnectionError("broker down"))
    clock.now = 70.0
    outage.recovered()
    outage.recovered()
    assert [(event, fields.get("failures")) for event, fields in log.lines] == [
        ("consumer loop error", None),
        ("consumer loop error (still failing)", 30),
        ("consumer loop error (still failing)", 30),
        ("consumer loop error (recovered)", 65),
    ]
    assert all(fields["group"] == "g" for _, fields in log.lines)


def record(msg: str, level: int = logging.ERROR, name: str = "aiokafka.conn") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("10.0.0.1",), None)


def test_the_kafka_client_filter_lets_one_line_per_message_and_interval_through() -> None:
    clock = FakeClock()
    limiter = RepeatFilter(every=30, clock=clock)
    passed = []
    for second in range(40):
        clock.now = float(second)
        for _ in range(20):  # reconnect attempts: twenty a second
            passing = record("Unable connect to node with id %s")
            if limiter.filter(passing):
                passed.append(passing.getMessage())
    assert passed == [
        "Unable connect to node with id 10.0.0.1",
        "Unable connect to node with id 10.0.0.1 [599 more like this in the last 30 s]",
    ]
    assert limiter.filter(record("another message"))
    assert limiter.filter(record("Unable connect to node with id %s", level=logging.INFO))
