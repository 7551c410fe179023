"""A background loop whose step keeps failing (the database down) logs the outage once, not a
traceback per attempt, and says when it has recovered."""

from __future__ import annotations

import asyncio

from structlog.testing import capture_logs

from mashcore.tasks import WakeableLoop


async def test_a_step_failing_again_and_again_is_logged_once_then_its_recovery() -> None:
    calls = {"n": 0}
    done = asyncio.Event()

    async def step() -> bool:
        calls["n"] += 1
        if calls["n"] <= 20:
            raise ConnectionError("database unreachable")
        done.set()
        return False

    loop = WakeableLoop("test.timer", step, interval=60.0)
    with capture_logs() as logs:
        loop.start()
        for _ in range(200):  # each failure returns at once; wake the loop past its interval
            loop.wake()
            await asyncio.sleep(0)
            if done.is_set():
                break
        await asyncio.wait_for(done.wait(), timeout=5)
        await loop.stop()
    failed = [e for e in logs if e["event"] == "background step failed; retrying"]
    recovered = [e for e in logs if e["event"].endswith("(recovered)")]
    assert calls["n"] == 21
    assert len(failed) == 1 and failed[0]["error"] == "ConnectionError"
    assert len(recovered) == 1 and recovered[0]["failures"] == 20
