"""Repeat detection by blocking keys finds every match the full scan finds (Hypothesis).

The repeat lookup reads only stored contacts sharing a date of birth or a full postcode with
the incoming child (intake/checks/repeat_index.py), then scores them with
intake.checks.matching. These
properties check on generated synthetic people, and spelling/case/accent/order/date/postcode
variants of them that today's scoring accepts, that blocking drops no match.
Every person here is invented.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from intake.checks.matching import (
    BLOCKING_SAFE_ABOVE,
    PROBABLE_MATCH_THRESHOLD,
    ChildKey,
    blocking_key,
    find_repeats,
    find_stored_repeats,
    match_score,
    stored_key,
)

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
FIRST = ["Siobhan", "Shivon", "Mathew", "Matthew", "Aiden", "Aidan", "Zoë", "Zoe", "Anne-Marie",
         "Annemarie", "Mary Ann", "Mary", "Daniel", "Danielle", "Millie", "Mollie", "Caitlin",
         "Kaitlyn", "Stephen", "Steven", "Mohammed", "Muhammad", "Unknown", "Baby", "Lea", "Leah"]
LAST = ["Smith", "Smyth", "Smith-Jones", "Jones", "O'Brien", "OBRIEN", "MacQuarrie",
        "McQuarrie", "Testwright", "Testwrite", "Ng", "Nguyen", "Dvořák", "Dvorak"]
POSTCODES = ["CV1 2AB", "cv12ab", "CV1  2AB", "CV1 2AC", "CV1", "B1 1AA", "b11aa", None]
DATES = [date(2014, 3, 7), date(2014, 7, 3), date(2014, 3, 8), date(2015, 1, 1), None]


def respell(name: str, how: int) -> str:
    """Case, spacing and accent variants that normalisation folds together."""
    return [name, name.upper(), name.lower(), f"  {name} ", name.replace("-", " ")][how % 5]


people = st.builds(
    ChildKey,
    first_name=st.sampled_from(FIRST),
    last_name=st.sampled_from(LAST),
    date_of_birth=st.sampled_from(DATES),
    postcode=st.sampled_from(POSTCODES),
    identity_unknown=st.sampled_from([False, False, False, True]),
)


def own_or_any(own: str, names: list[str]) -> st.SearchStrategy[str]:
    """Mostly the same name (to be respelt), sometimes any other."""
    return st.one_of(st.just(own), st.just(own), st.just(own), st.sampled_from(names))


@st.composite
def variant_of(draw: st.DrawFn, person: ChildKey) -> ChildKey:
    """The same child as another agency may record them."""
    first, last = person.first_name or "", person.last_name or ""
    if draw(st.booleans()):
        first, last = last, first
    born = person.date_of_birth
    change = draw(st.sampled_from(["same", "same", "transposed", "missing", "other"]))
    if born is not None and change == "transposed":
        born = date(born.year, born.day, born.month) if born.day <= 12 else born
    elif change == "missing":
        born = None
    elif change == "other":
        born = draw(st.sampled_from(DATES))
    return ChildKey(first_name=respell(draw(own_or_any(first, FIRST)), draw(st.integers())),
                    last_name=respell(draw(own_or_any(last, LAST)), draw(st.integers())),
                    date_of_birth=born,
                    postcode=draw(st.sampled_from([person.postcode, *POSTCODES])))


def shares_block(a: ChildKey, b: ChildKey) -> bool:
    """What the indexed lookup selects on (intake/checks/repeat_index.py)."""
    key_a, key_b = blocking_key(a), blocking_key(b)
    if key_a is None or key_b is None:
        return False
    return (key_a[0] is not None and key_a[0] == key_b[0]) or (
        key_a[1] is not None and key_a[1] == key_b[1])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), person=people)
def test_every_pair_that_matches_shares_a_blocking_key(data: st.DataObject,
                                                        person: ChildKey) -> None:
    other = data.draw(variant_of(person))
    matched = match_score(person, other).score >= PROBABLE_MATCH_THRESHOLD
    event(f"matched={matched}")
    if matched:
        assert shares_block(person, other)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), wanted=people, strangers=st.lists(people, max_size=6))
def test_the_blocked_lookup_finds_what_the_full_scan_finds(
        data: st.DataObject, wanted: ChildKey, strangers: list[ChildKey]) -> None:
    variants = data.draw(st.lists(variant_of(wanted), min_size=1, max_size=6))
    stored = [(f"c{n}", NOW - timedelta(days=n % 40), child)
              for n, child in enumerate([*variants, *strangers])]
    full_scan = find_repeats(wanted, stored, WINDOW, NOW)
    blocked = find_repeats(wanted, [row for row in stored if shares_block(wanted, row[2])],
                           WINDOW, NOW)
    event(f"repeats found: {min(len(full_scan), 3)}")
    assert blocked == full_scan


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), wanted=people, strangers=st.lists(people, max_size=6))
def test_the_index_rows_score_as_the_submissions_they_were_taken_from(
        data: st.DataObject, wanted: ChildKey, strangers: list[ChildKey]) -> None:
    # The index keeps each child as stored_key gives it (normalised names, full postcode or
    # none, nothing for a child who can match nothing); the lookup scores those rows, never
    # the submission: the same contacts are linked, with the same scores.
    variants = data.draw(st.lists(variant_of(wanted), min_size=1, max_size=6))
    stored = [(f"c{n}", NOW - timedelta(days=n % 40), child)
              for n, child in enumerate([*variants, *strangers])]
    indexed = [(contact_id, received, key.first_name, key.last_name, key.date_of_birth,
                key.postcode)
               for contact_id, received, child in stored
               for key in [stored_key(child)] if key is not None]
    from_submissions = find_repeats(wanted, stored, WINDOW, NOW)
    from_index = find_stored_repeats(wanted, indexed, WINDOW, NOW)  # type: ignore[arg-type]
    event(f"repeats found: {min(len(from_submissions), 3)}")
    assert [(c, r.score) for c, r in from_index] == [(c, r.score) for c, r in from_submissions]


def test_each_way_of_matching_is_blocked_together() -> None:
    """Same date of birth; transposed date and postcode; date missing and postcode."""
    child = ChildKey("Siobhan", "Testwright", date(2014, 3, 7), "CV1 2AB")
    for other in (ChildKey("Shivon", "TESTWRIGHT", date(2014, 3, 7), None),
                  ChildKey("Testwright", "Siobhan", date(2014, 3, 7), "B1 1AA"),
                  ChildKey("Siobhan", "Testwright", date(2014, 7, 3), "cv12ab"),
                  ChildKey("siobhan", "Testwright", None, "CV1 2AB")):
        assert match_score(child, other).score >= PROBABLE_MATCH_THRESHOLD
        assert shares_block(child, other)


def test_children_who_can_match_nothing_leave_no_key() -> None:
    assert blocking_key(ChildKey("Unknown", "Testwright", date(2014, 3, 7), "CV1 2AB")) is None
    assert blocking_key(ChildKey("Ann", "Testwright", date(2014, 3, 7), None,
                                 identity_unknown=True)) is None
    assert blocking_key(ChildKey("Ann", "Testwright", None, "CV1")) is None  # no full postcode
    assert blocking_key(ChildKey("Ann", "Testwright", None, "cv1 2ab")) == (None, "CV1 2AB")


def test_the_threshold_is_one_blocking_is_safe_for() -> None:
    assert PROBABLE_MATCH_THRESHOLD > BLOCKING_SAFE_ABOVE
