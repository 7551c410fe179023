"""Where a run's CPU went: CPU seconds per group of processes, read from Linux's ``/proc``.

A group is named by its root processes (an intake replica, the triage service, the broker's
JVM, the PostgreSQL postmaster). Its CPU is that of the roots and of every live descendant
(a PostgreSQL backend per connection), each with the CPU of its children already exited
and reaped (``cutime``, ``cstime``: a backend that ended during the run still counts). The
bench client counts itself only: its descendants are the services it measures.

Divided by the referrals of a run this gives milliseconds of CPU per referral by process: the
breakdown behind the README's "where the time goes". Elsewhere than Linux there is no
``/proc`` and nothing is measured (``None``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

_PROC = Path("/proc")
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # /proc's time unit


def _stat(pid: int) -> tuple[int, float, float] | None:
    """``(parent pid, own CPU s, own + reaped children's CPU s)``; None once it has gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (in parentheses) may hold spaces: the fields follow its last ")".
    fields = text.rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return int(fields[1]), (utime + stime) / _TICK, (utime + stime + cutime + cstime) / _TICK


def _all_pids() -> Iterator[int]:
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def available() -> bool:
    """Whether CPU can be read here (Linux's /proc)."""
    return (_PROC / "self" / "stat").exists()


def cpu_seconds(groups: Mapping[str, Sequence[int]], own: str | None = None) -> dict[str, float]:
    """CPU seconds so far of each group (its roots and their live descendants, with reaped
    children), and of this process alone under the name ``own``. Take two and subtract."""
    stats = {pid: stat for pid in _all_pids() if (stat := _stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    totals: dict[str, float] = {}
    for name, roots in groups.items():
        seen: set[int] = set()
        todo = [pid for pid in roots if pid in stats]
        while todo:
            pid = todo.pop()
            if pid not in seen:
                seen.add(pid)
                todo.extend(children.get(pid, ()))
        totals[name] = sum(stats[pid][2] for pid in seen)
    if own is not None:
        mine = _stat(os.getpid())
        totals[own] = mine[1] if mine else 0.0
    return totals


def per_item_ms(before: Mapping[str, float], after: Mapping[str, float],
                items: int) -> dict[str, float]:
    """Milliseconds of CPU per item for each group between two readings, and their total."""
    spent = {name: 1000 * (after[name] - before[name]) / items for name in after}
    return {**spent, "total": sum(spent.values())}


class Span:
    """CPU per item of each group over a span of work: read when made, and again by
    ``per_item_ms`` at the span's end. Nothing is read without groups or without /proc."""

    def __init__(self, groups: Mapping[str, Sequence[int]] | None, own: str | None = None
                 ) -> None:
        self._groups, self._own = groups, own
        self._before = cpu_seconds(groups, own) if groups is not None and available() else None

    def per_item_ms(self, items: int) -> dict[str, float] | None:
        """Milliseconds per item of each group since the span began (None: not measured)."""
        if self._groups is None or self._before is None:
            return None
        return per_item_ms(self._before, cpu_seconds(self._groups, self._own), items)
