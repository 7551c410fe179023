"""A WakeableLoop with a ``pause``: it sleeps until its next work is due (never longer than
its interval), and a wake from another thread runs it at once."""

from __future__ import annotations

import asyncio
import threading

from mashcore.tasks import WakeableLoop


async def test_a_loop_sleeps_only_until_its_next_work_is_due_and_wakes_from_any_thread() -> None:
    runs: list[int] = []
    ran = asyncio.Event()
    due_in: list[float | None] = [0.0]  # the first wait: due at once

    async def step() -> bool:
        runs.append(len(runs))
        if len(runs) == 2:
            due_in[0] = None  # nothing known any more: the interval (an hour)
        ran.set()
        return False

    # An hour's interval: only the pause, or a wake, can run the loop again.
    loop = WakeableLoop("test.pause", step, 3600.0, stop_timeout=1.0,
                        pause=lambda: due_in[0])
    loop.start()
    try:
        await asyncio.wait_for(ran.wait(), 10)
        ran.clear()
        await asyncio.wait_for(ran.wait(), 10)  # due at once (2 ms later): run again
        ran.clear()
        count = len(runs)
        assert count == 2
        thread = threading.Thread(target=loop.wake_threadsafe)
        thread.start()
        thread.join()
        await asyncio.wait_for(ran.wait(), 10)
        assert len(runs) == count + 1
    finally:
        await loop.stop()


def test_due_work_left_undone_is_tried_again_soon_then_less_soon_never_in_a_busy_loop() -> None:
    """An early wake (timers round to the millisecond) costs a couple of milliseconds, not a
    flat 50; a row locked by a change is retried ever less often, up to 50 ms; a step that
    did something, or work due later, starts the series again."""
    due_in: list[float | None] = [0.0]

    async def step() -> bool:
        return False

    loop = WakeableLoop("test.overdue", step, 3600.0, pause=lambda: due_in[0])
    waits = [loop._next_wait() for _ in range(8)]
    assert waits == [0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05, 0.05]
    due_in[0] = 0.3  # due later: sleep until then, and the series starts again
    assert loop._next_wait() == 0.3
    due_in[0] = -0.001
    assert loop._next_wait() == 0.002
    due_in[0] = None  # nothing known: the interval
    assert loop._next_wait() == 3600.0
    short = WakeableLoop("test.short", step, 0.001, pause=lambda: 0.0)
    assert short._next_wait() == 0.001  # never longer than the interval
