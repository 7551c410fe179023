"""Case references: readable over the phone, drawn uniformly, with one read of the system's
randomness each (issue 17: each read gave up the GIL and waited to take it back)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from intake import domain

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
            monkeypatch.setattr(domain.secrets, "randbits",
                                lambda bits, value=symbol << (5 * place): value)
            suffix = domain.new_case_reference(NOW).rsplit("-", 1)[1]
            assert suffix[place] == letter
            assert [c for i, c in enumerate(suffix) if i != place] == ["A"] * 7


def test_one_reference_reads_the_systems_randomness_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    original = random._urandom  # type: ignore[attr-defined]

    def counted(size: int) -> Any:
        reads.append(size)
        return original(size)

    monkeypatch.setattr(random, "_urandom", counted)
    domain.new_case_reference(NOW)
    assert reads == [5]
