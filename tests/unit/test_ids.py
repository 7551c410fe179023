"""Fresh ids from the block-read randomness pool (mashcore.ids): version-4 UUIDs, never handed
out twice, in one thread, across threads, or in a forked child."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from mashcore import ids


def test_ids_are_version_4_uuids_with_the_rfc_variant() -> None:
    for _ in range(600):  # more than one 4 KiB block
        made = ids.random_uuid()
        assert made.version == 4
        assert made.variant == uuid.RFC_4122
        assert uuid.UUID(ids.new_id()).version == 4


def test_no_id_is_handed_out_twice_across_blocks_and_threads() -> None:
    made: list[str] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        mine = [ids.new_id() for _ in range(n)]
        with lock:
            made.extend(mine)

    threads = [threading.Thread(target=take, args=(2_000,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    take(1_000)
    assert len(made) == 9_000
    assert len(set(made)) == len(made)


def test_bytes_are_not_reused_within_a_block() -> None:
    first = ids.random_bytes(40)
    second = ids.random_bytes(40)
    assert first != second
    assert len(first) == len(second) == 40


@pytest.mark.parametrize("n", [0, -1, 4097])
def test_requests_outside_one_block_are_refused(n: int) -> None:
    with pytest.raises(ValueError):
        ids.random_bytes(n)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_unread_bytes() -> None:
    ids.random_bytes(16)  # the parent holds a partly read block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.close(read)
        os.write(write, ids.new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = ids.new_id()
    assert child and child != parent
