"""Fresh identifiers from the operating system's randomness, read in blocks.

Decision (issue 17): ``uuid.uuid4()`` reads 16 bytes with one ``getrandom`` call, and CPython
gives up the GIL around that call. In a busy service (the SLA timekeeper's consumer, timer and
relay threads; intake's request threads) each id then waits for another thread to hand the GIL
back, up to the 5 ms switch interval: the profile of SLA ingest showed 7 % of the
timekeeper's samples waiting inside ``uuid4``. Here each thread reads 4 KiB at once from the
same source (``os.urandom``, the kernel's CSPRNG) and hands out 16-byte slices: the same
uniform, unpredictable version-4 UUIDs, one system call per 256 of them.

A forked child never reuses its parent's unread bytes (they are dropped at fork), so two
processes never hand out the same id.
"""

from __future__ import annotations

import os
import threading
import uuid

_BLOCK = 4096


class _Pool(threading.local):
    """One thread's unread random bytes."""

    def __init__(self) -> None:
        self.block = b""
        self.position = 0


_pool = _Pool()


def _forget_after_fork() -> None:
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_after_fork)


def random_bytes(n: int) -> bytes:
    """``n`` bytes (at most one block) from the operating system's CSPRNG, never handed out
    twice."""
    if not 0 < n <= _BLOCK:
        raise ValueError(f"between 1 and {_BLOCK} bytes at a time")
    pool = _pool
    start = pool.position
    if start + n > len(pool.block):
        pool.block, start = os.urandom(_BLOCK), 0
    pool.position = start + n
    return pool.block[start:start + n]


def random_uuid() -> uuid.UUID:
    """A random (version 4) UUID, as ``uuid.uuid4()`` makes it."""
    return uuid.UUID(bytes=random_bytes(16), version=4)


def new_id() -> str:
    """A fresh random UUID as text: the form rows and events carry."""
    return str(random_uuid())
