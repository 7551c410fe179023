"""Time as an input: every component takes a ``Clock`` instead of calling ``datetime.now()``.

All instants are timezone-aware and in UTC. A naive datetime is ambiguous about which
instant it means, so it is rejected with ``ValueError`` wherever one is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FrozenClock", "SystemClock", "to_utc"]


class Clock(Protocol):
    """Source of the current instant."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware in UTC."""
        ...


def to_utc(value: datetime) -> datetime:
    """Return the same instant in UTC, rejecting naive datetimes with ValueError."""
    if value.tzinfo is UTC:
        return value  # already (hot: the repeat lookup's ~190 stored children a referral)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no timezone; pass an aware one")
    return value.astimezone(UTC)


class SystemClock:
    """The real wall clock of the machine."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to: for pure-logic tests and SLA tests."""

    def __init__(self, start: datetime) -> None:
        self._now = to_utc(start)
        self._moved: list[Callable[[], None]] = []

    def subscribe(self, moved: Callable[[], None]) -> None:
        """Call ``moved`` (from the mover's thread) each time the clock is set or advanced:
        a timer waiting for a due time wakes when a test moves time to it."""
        self._moved.append(moved)

    def _notify(self) -> None:
        for moved in list(self._moved):
            moved()

    def now(self) -> datetime:
        """Return the frozen instant in UTC."""
        return self._now

    def set(self, value: datetime) -> None:
        """Jump to the given instant (forwards or backwards)."""
        self._now = to_utc(value)
        self._notify()

    def advance(self, delta: timedelta | None = None, /, **units: float) -> datetime:
        """Move forwards by a timedelta or by timedelta keywords (hours=4); return the new now."""
        if (delta is None) == (not units):
            raise ValueError("advance by either a timedelta or keyword units such as hours=4")
        step = delta if delta is not None else timedelta(**units)
        if step < timedelta(0):
            raise ValueError(f"advance cannot go backwards ({step}); use set() to rewind")
        self._now += step
        self._notify()
        return self._now
