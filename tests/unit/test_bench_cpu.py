"""bench.cpu: CPU seconds per group of processes, read from /proc (real processes)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from bench import cpu
from bench.throughput import median_cpu

pytestmark = pytest.mark.skipif(not cpu.available(), reason="no /proc here (not Linux)")

# A fixed amount of work, not a duration: some tenths of a second of CPU on any machine.
BURN = "sum(i * i for i in range(3_000_000))"
# The group's root burns nothing itself: its child does and exits (reaped by the root), then
# the root says so and waits.
CHILD_BURNS_AND_EXITS = (
    f"import subprocess, sys; subprocess.run([sys.executable, '-c', {BURN!r}], check=True); "
    "print('done', flush=True); sys.stdin.read()")


@contextlib.contextmanager
def root_whose_child_burns() -> Iterator[tuple[int, Callable[[], None]]]:
    """A group's root (this process's child) and a call that waits until the root's child
    has burnt its CPU and exited; the root ends with the block."""
    root = subprocess.Popen([sys.executable, "-c", CHILD_BURNS_AND_EXITS],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def child_done() -> None:
        assert root.stdout is not None and root.stdout.readline() == "done\n"

    try:
        yield root.pid, child_done
    finally:
        root.communicate("")


def test_a_group_counts_its_exited_children_and_the_client_only_itself() -> None:
    # The root is this process's child: the client's own figure must not take it in.
    with root_whose_child_burns() as (root, child_done):
        before = cpu.cpu_seconds({"service": [root]}, own="client")
        child_done()
        after = cpu.cpu_seconds({"service": [root]}, own="client")
    service = after["service"] - before["service"]
    assert service >= 0.05  # the exited child's work, through the root's reaped children
    assert after["client"] - before["client"] < service / 2  # blocked reading meanwhile
    spent = cpu.per_item_ms(before, after, 10)
    assert spent["service"] == pytest.approx(100 * service)
    assert spent["total"] == pytest.approx(spent["service"] + spent["client"])


def test_a_group_whose_processes_are_gone_counts_nothing() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert cpu.cpu_seconds({"gone": [gone.pid]}) == {"gone": 0.0}


def test_the_rounds_median_is_taken_per_process_group() -> None:
    rounds = [{"cpu_ms_per_referral": {"intake": 6.0, "total": 9.0}},
              {"cpu_ms_per_referral": {"intake": 8.0, "total": 10.0}},
              {"cpu_ms_per_referral": {"intake": 7.0, "total": 12.0}}]
    assert median_cpu(rounds) == {"intake": 7.0, "total": 10.0}
    assert median_cpu([{"cpu_ms_per_referral": None}]) is None


def test_a_span_gives_the_cpu_per_item_since_it_began_and_nothing_without_groups() -> None:
    with root_whose_child_burns() as (root, child_done):
        span = cpu.Span({"service": [root]}, own="client")
        child_done()
        spent = span.per_item_ms(10)
    assert spent is not None and spent["service"] >= 5  # the child's 0.05 s and more, per item
    assert spent["total"] == pytest.approx(spent["service"] + spent["client"])
    assert cpu.Span(None, own="client").per_item_ms(10) is None
