"""Two transactions forced to overlap, deterministically: no sleeping and hoping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.engine import Engine

T = TypeVar("T")


class Rendezvous:
    """A point inside two concurrent transactions where each waits for the other.

    The first to arrive waits until the second has arrived too (so both have read what they
    read before it: the race is on), or until the second is waiting for a lock this one holds
    on PostgreSQL, the case's or a row's (so it cannot arrive before this one commits: the
    race is prevented). Either way the outcome is decided by the code under test, not by the
    scheduler.
    """

    def __init__(self, engine: Engine, *, timeout: float = 60.0) -> None:
        self._engine = engine
        self._timeout = timeout
        self._arrived = 0
        self._passed = False  # one went on alone: the other was held at the case lock
        self._condition = threading.Condition()
        self.met = False  # both were inside at once

    def arrive(self) -> None:
        """Wait here for the other transaction (or for it to be held at the case lock)."""
        deadline = time.monotonic() + self._timeout
        with self._condition:
            self._arrived += 1
            self._condition.notify_all()
            if self._passed:
                return  # the other has committed already
        while True:
            with self._condition:
                if self._arrived >= 2:
                    self.met = True
                    return
                self._condition.wait(0.02)
            if self.lock_waiters() > 0:  # it waits for this one (or for a third party)
                with self._condition:
                    self._passed = True
                return
            if time.monotonic() > deadline:
                raise AssertionError("the other transaction neither arrived nor waited")

    def lock_waiters(self) -> int:
        """Sessions of this database waiting for a lock (the case's, or a row's)."""
        with self._engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )).scalar_one())

    def wrap(self, function: Callable[..., T], *, after: bool = False) -> Callable[..., T]:
        """``function`` with this rendezvous before it (or ``after`` it), to patch into the
        code under test."""
        def wrapped(*args: Any, **kwargs: Any) -> T:
            if not after:
                self.arrive()
            result = function(*args, **kwargs)
            if after:
                self.arrive()
            return result
        return wrapped


def in_threads(*work: Callable[[], T]) -> list[T]:
    """Run each callable in its own thread at once; their results, or the first error."""
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []

    def run(index: int, job: Callable[[], T]) -> None:
        try:
            results[index] = job()
        except BaseException as exc:  # handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
