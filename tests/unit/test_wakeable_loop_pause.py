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
        await asyncio.wait_for(ran.wait(), 10)  # due at once (0.05 s later): run again
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
