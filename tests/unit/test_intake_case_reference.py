"""Case references: readable over the phone, drawn uniformly, with one read of the system's
randomness per several hundred (issue 17: each read gave up the GIL and waited to take it
back; mashcore.ids reads it in blocks)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from intake import domain
from mashcore import ids

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
READABLE = re.compile(r"^MASH-2026-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{8}$")


def test_a_case_reference_has_eight_readable_symbols_after_the_year() -> None:
    references = {domain.new_case_reference(NOW) for _ in range(2000)}
    assert all(READABLE.match(reference) for reference in references)
    assert len(references) == 2000


def test_every_symbol_can_appear_in_every_place_from_its_own_five_bits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    for place in range(8):
        for symbol, letter in enumerate(alphabet):
            value = symbol << (5 * place)
            monkeypatch.setattr(domain, "random_bytes",
                                lambda n, value=value: value.to_bytes(n, "big"))
            suffix = domain.new_case_reference(NOW).rsplit("-", 1)[1]
            assert suffix[place] == letter
            assert [c for i, c in enumerate(suffix) if i != place] == ["A"] * 7


def test_references_read_the_systems_randomness_once_per_block(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    original = ids.os.urandom

    def counted(size: int) -> bytes:
        reads.append(size)
        return original(size)

    monkeypatch.setattr(ids.os, "urandom", counted)
    monkeypatch.setattr(ids, "_pool", ids._Pool())  # this thread's pool, empty
    references = {domain.new_case_reference(NOW) for _ in range(800)}  # 5 bytes each
    assert len(references) == 800
    assert reads == [4096]
