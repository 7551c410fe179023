"""The plain-words matcher is used from FastAPI's thread pool: its stemmer is per thread.

A Snowball stemmer keeps its working state on the instance; one shared by request threads
raised IndexError under load (seen in test_walking_skeleton_api's concurrent retries).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from mashcore import plainwords


def test_each_thread_has_its_own_stemmer_and_they_agree() -> None:
    words = ["appointments", "missed", "hitting", "controlling", "absences", "bruised"]
    here = plainwords.stemmer()
    assert plainwords.stemmer() is here  # reused within a thread
    barrier = threading.Barrier(4)

    def in_a_thread(_: int) -> tuple[int, list[str]]:
        barrier.wait()  # all four threads hold their stemmer at once
        own = plainwords.stemmer()
        # The stemmer itself, not its memo: the threads stem at once.
        return id(own), [plainwords._stem_word(w) for w in words]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(in_a_thread, range(4)))
    ids = {i for i, _ in results}
    assert len(ids) == 4 and id(here) not in ids
    expected = [plainwords._stem_word(w) for w in words]
    assert all(stems == expected for _, stems in results)
    assert [plainwords._stem(w) for w in words] == expected  # memoised or not, alike
