"""find_repeats skips a stored child early when its date of birth or both arrangements of its
names veto a match, and tells two given names apart with its cheap tests first (issue 17:
the repeat lookup's cost). The shortcuts must change nothing: for any children, find_repeats
gives what scoring every one of them gives, and the quick test of two names what comparing
them gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from hypothesis import given, settings
from hypothesis import strategies as st

from intake.checks.matching import (
    KNOWN_DISTINCT,
    KNOWN_VARIANTS,
    PROBABLE_MATCH_THRESHOLD,
    ChildKey,
    _Agreement,
    _compare_names,
    _given_names_differ,
    find_repeats,
    match_score,
    normalise_name,
)

T = TypeVar("T")
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
# Names that agree, vary, sound alike, are typos or distinct forms of each other, and
# placeholders: the rules' corner cases, so that matches are common in the samples.
NAMES: list[str | None] = [
    *sorted(KNOWN_VARIANTS[0])[:3], *sorted(KNOWN_DISTINCT[0]), "Smith", "Smyth", "Matthew",
    "Mathew", "Jones", "Jone", "Katie", "Katy", "Ann", "Anne-Marie", "Marie", "MacDonald",
    "McDonald", "Unknown", "O'Neil", "Oneil", "Lee", "Leigh", None]
DATES = [date(2015, 6, 1), date(2015, 1, 6), date(2015, 6, 2), None]
POSTCODES = ["CV1 2AB", "cv12ab", "CV1", None]

children = st.builds(ChildKey, first_name=st.sampled_from(NAMES),
                     last_name=st.sampled_from(NAMES), date_of_birth=st.sampled_from(DATES),
                     postcode=st.sampled_from(POSTCODES), identity_unknown=st.booleans())


def like(wanted: ChildKey) -> st.SearchStrategy[ChildKey]:
    """A child near ``wanted``: its names perhaps swapped, one perhaps replaced, its date of
    birth and postcode perhaps kept (so that the samples hold many near and real matches)."""
    return st.builds(
        lambda swap, first, last, born, postcode: ChildKey(
            first if first != "keep" else (wanted.last_name if swap else wanted.first_name),
            last if last != "keep" else (wanted.first_name if swap else wanted.last_name),
            born if born != "keep" else wanted.date_of_birth,
            postcode if postcode != "keep" else wanted.postcode),
        st.booleans(), kept_or(NAMES), kept_or(NAMES), kept_or(DATES), kept_or(POSTCODES))


def kept_or(values: list[T]) -> st.SearchStrategy[T | str]:
    """"keep" half the time, else one of ``values``."""
    return st.one_of(st.just("keep"), st.sampled_from(values))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), wanted=children)
def test_the_shortcuts_find_what_scoring_every_child_finds(
        data: st.DataObject, wanted: ChildKey) -> None:
    stored = data.draw(st.lists(st.one_of(children, like(wanted)), max_size=12))
    recent = [(index, NOW - timedelta(hours=index), child) for index, child in
              enumerate(stored)]
    everyone = sorted(((index, received, match_score(wanted, child))
                       for index, received, child in recent), key=lambda item: (
                           item[2].score, item[1]), reverse=True)
    expected = [(index, result) for index, _, result in everyone
                if result.score >= PROBABLE_MATCH_THRESHOLD]
    if not wanted.is_identified:
        expected = []
    assert find_repeats(wanted, recent, WINDOW, NOW) == expected


def _edited(name: str, edit: int, at: int) -> str:
    """``name`` with one letter added, dropped, swapped with the next, or a gendered or
    diminutive ending added: the spellings the name rules tell apart."""
    at %= len(name) + 1
    return [name[:at] + "e" + name[at:], name[:at] + name[at + 1:],
            name[:at] + name[at + 1:at + 2] + name[at:at + 1] + name[at + 2:],
            name + "a", name + "ine", name + "ie", name + "y", name + "e"][edit % 8]


given_names = st.sampled_from([n for n in map(normalise_name, NAMES) if n] + [
    "anne marie", "mary ann", "ann", "jo", "rhiannon", "rianon", "christopher", "kristopher",
    "louis", "louise", "daniel", "danielle", "stephen", "steven", "philip", "phillipa"])
names_and_edits = st.one_of(
    given_names,
    st.builds(_edited, given_names, st.integers(0, 7), st.integers(0, 20)),
    st.text(alphabet="abehiklmnorsty ", min_size=1, max_size=12).map(str.strip).filter(bool))


@settings(max_examples=3000, deadline=None)
@given(a=names_and_edits, b=names_and_edits)
def test_the_quick_test_of_two_given_names_answers_as_comparing_them_does(
        a: str, b: str) -> None:
    compared = _compare_names(a, b, given_name=True).agreement == _Agreement.DIFFERENT
    assert _given_names_differ(a, b) == compared
