"""The matcher's word index (issue 17) only narrows what is compared: a token is the same as
exactly the phrase words that comparing it with every phrase word finds (issue 20's rules:
same stem, or one edit away for words of five letters or more)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from mashcore import plainwords
from mashcore.plainwords import matcher_for
from mashcore.policy import PolicyBook, default_policy_dir, load_pack

MATCHER = matcher_for(PolicyBook({"default": load_pack(default_policy_dir() / "default.yaml")}),
                      "default")
WORDS = sorted({word for _, word in MATCHER._words})
LETTERS = "abcdefghijklmnopqrstuvwxyz'"


def _edit(word: str, rng: random.Random) -> str:
    """The word with one or two random edits: deleted, inserted, replaced or swapped letters."""
    for _ in range(rng.choice((1, 1, 2))):
        i = rng.randrange(len(word) + 1)
        how = rng.choice(("delete", "insert", "replace", "swap"))
        if how == "delete" and i < len(word) and len(word) > 1:
            word = word[:i] + word[i + 1:]
        elif how == "insert":
            word = word[:i] + rng.choice(LETTERS[:-1]) + word[i:]
        elif how == "replace" and i < len(word):
            word = word[:i] + rng.choice(LETTERS[:-1]) + word[i + 1:]
        elif how == "swap" and i + 1 < len(word):
            word = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word


def _every_word_compared(token: plainwords._Token) -> frozenset[int]:
    return frozenset(i for i, word in enumerate(MATCHER._words) if plainwords._same(word, token))


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=30))
def test_the_index_finds_exactly_the_words_a_full_comparison_finds(
        rng: random.Random, length: int) -> None:
    words = [_edit(rng.choice(WORDS), rng) if rng.random() < 0.7 else rng.choice(WORDS)
             for _ in range(length)]
    tokens, matched = MATCHER._read_text(" ".join(words))
    assert matched == tuple(_every_word_compared(token) for token in tokens)


def test_near_words_are_found_through_the_index() -> None:
    tokens, matched = MATCHER._read_text("apointment brusie bruse strangeld")
    assert all(matched), "each misspelt word is one edit from a phrase word"
    assert matched == tuple(_every_word_compared(token) for token in tokens)
