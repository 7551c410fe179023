"""Rate-limited logging of failures that repeat while something is down (a broker outage).

A loop retrying every second, and aiokafka's own reconnect attempts, would otherwise write
hundreds of lines a second while Kafka is unreachable, drowning everything else. Here a
repeating failure is logged once when it starts, then at most once per ``every`` seconds
saying how many more there were, and once when it ends.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

DEFAULT_EVERY_S = 30.0


class Outage:
    """The log of one kind of repeating failure (say, one consumer's loop)."""

    def __init__(self, log: Any, event: str, *, every: float = DEFAULT_EVERY_S,
                 clock: Callable[[], float] = time.monotonic, **fields: Any) -> None:
        self._log = log
        self._event = event
        self._every = every
        self._clock = clock
        self._fields = fields
        self._started: float | None = None
        self._last_logged = 0.0
        self._unlogged = 0
        self._total = 0

    @property
    def ongoing(self) -> bool:
        """Whether the failure is happening now."""
        return self._started is not None

    def failed(self, error: BaseException) -> None:
        """Note one failure; log it if it is the first, or if ``every`` seconds have passed."""
        now = self._clock()
        self._total += 1
        if self._started is None:
            self._started = self._last_logged = now
            self._log.error(self._event, error=type(error).__name__, exc_info=error,
                            **self._fields)
            return
        self._unlogged += 1
        if now - self._last_logged >= self._every:
            self._log.error(f"{self._event} (still failing)", error=type(error).__name__,
                            failures=self._unlogged, seconds=round(now - self._last_logged),
                            **self._fields)
            self._last_logged, self._unlogged = now, 0

    def recovered(self) -> None:
        """Note success: log the end of an outage, once."""
        if self._started is None:
            return
        self._log.warning(f"{self._event} (recovered)", failures=self._total,
                          seconds=round(self._clock() - self._started), **self._fields)
        self._started, self._unlogged, self._total = None, 0, 0


class RepeatFilter(logging.Filter):
    """Lets one warning-or-worse record per logger and message template through every
    ``every`` seconds; the next one let through says how many were held back."""

    def __init__(self, every: float = DEFAULT_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every = every
        self._clock = clock
        self._seen: dict[tuple[str, str], list[float]] = {}  # key -> [last let through, held]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.every:
            seen[1] += 1
            return False
        held = int(seen[1]) if seen is not None else 0
        self._seen[key] = [now, 0]
        if held:
            record.msg = f"{record.msg} [{held} more like this in the last {self.every:.0f} s]"
        return True


_KAFKA_CLIENT_FILTER = RepeatFilter()


def limit_kafka_client_logs() -> None:
    """Rate-limit aiokafka's loggers (idempotent; call after importing aiokafka)."""
    names = [name for name in logging.root.manager.loggerDict
             if name == "aiokafka" or name.startswith("aiokafka.")]
    for name in ["aiokafka", *names]:
        logger = logging.getLogger(name)
        if _KAFKA_CLIENT_FILTER not in logger.filters:
            logger.addFilter(_KAFKA_CLIENT_FILTER)
