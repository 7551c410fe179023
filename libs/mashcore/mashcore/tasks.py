"""Background loops that stop cooperatively: a stop flag and a wake-up, cancellation last."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from mashcore.lograte import Outage

log = structlog.get_logger(__name__)


class Alarm(Protocol):
    """When a timer's work next falls due, known in the process: its loop sleeps until then
    (at most its interval) and is woken early through ``bind``'s callback (any thread)."""

    def seconds_left(self) -> float | None:
        """Seconds until the next work is due; None if not known."""
        ...

    def bind(self, wake: Callable[[], None]) -> None:
        """Remember how to wake the timer now."""
        ...


# After a step that left due work undone: the first retry's wait, doubled each time, capped.
OVERDUE_RETRY_S = 0.002
OVERDUE_RETRY_MAX_S = 0.05


class WakeableLoop:
    """Runs ``step()`` repeatedly; sleeps between steps until woken or the interval passes.

    Decision: stop() sets a flag and wakes the loop instead of cancelling it, so a step in
    flight (a batch being published or committed) finishes cleanly. Cancellation is only the
    fallback after ``stop_timeout``. Python 3.11's timeout helpers can lose a cancellation
    that races with a wake-up, which made cancel-based stops hang.
    """

    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], interval: float,
                 stop_timeout: float = 10.0,
                 pause: Callable[[], float | None] | None = None) -> None:
        # ``pause``: seconds until the next step is due (None: not known), read after each
        # step; the loop never waits longer than ``interval``.
        self._pause = pause
        self._overdue_waits = 0  # steps in a row that found due work not done (_next_wait)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._name = name
        self._step = step
        self._interval = interval
        self._stop_timeout = stop_timeout
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._outage = Outage(log, "background step failed; retrying", loop=name)

    def _next_wait(self) -> float:
        """How long to sleep after a step that did nothing: until the next work is due (at
        most the interval). Work due already that the step did not do means the loop woke a
        moment before its due time (the event loop's timers round to the millisecond) or
        its row is locked by a change: tried again in 2 ms, then 4, 8, ... up to 50 ms, so
        an early wake costs a couple of milliseconds and a locked row no busy loop (issue 17:
        a flat 50 ms after an early wake was the tail of the breach latency)."""
        due_in = self._pause() if self._pause is not None else None
        if due_in is None:
            return self._interval
        if due_in > 0:
            self._overdue_waits = 0
            return min(self._interval, due_in)
        wait = min(self._interval, OVERDUE_RETRY_S * (1 << self._overdue_waits),
                   OVERDUE_RETRY_MAX_S)
        self._overdue_waits = min(self._overdue_waits + 1, 16)
        return wait

    def wake(self) -> None:
        """Run the next step now (call from the loop's own thread)."""
        self._wake.set()

    def wake_threadsafe(self) -> None:
        """Run the next step now (from any thread; nothing before start())."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def start(self) -> None:
        """Start looping in the background."""
        self._stopping = False
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Finish the step in flight and stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        self._wake.set()
        _done, pending = await asyncio.wait({task}, timeout=self._stop_timeout)
        if pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                more = await self._step()
            except Exception as exc:
                # A failed step (a locked or full database, say) is retried; the loop must
                # not die silently while the service still reports itself ready. While it
                # keeps failing (an outage), it is logged once, then once per 30 s with a count.
                self._outage.failed(exc)
                more = False
            else:
                self._outage.recovered()
            if more or self._stopping:
                self._overdue_waits = 0
                continue
            wait = self._next_wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
