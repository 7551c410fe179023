"""Repeat / duplicate child detection. Every name, date and postcode here is made up."""

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from intake.checks.matching import (
    PROBABLE_MATCH_THRESHOLD,
    ChildKey,
    MatchResult,
    find_repeats,
    is_probable_match,
    match_score,
    normalise,
    normalise_name,
    normalise_postcode,
)

pytestmark = pytest.mark.unit

DOB = date(2019, 3, 7)
POSTCODE = "ZZ1 4QX"
NOW = datetime(2026, 11, 13, 15, 30, tzinfo=UTC)
WINDOW = timedelta(days=28)


def child(
    first: str | None = "Aiden",
    last: str | None = "Quillfeather",
    dob: date | None = DOB,
    postcode: str | None = None,
    *,
    unknown: bool = False,
) -> ChildKey:
    return ChildKey(
        first_name=first,
        last_name=last,
        date_of_birth=dob,
        postcode=postcode,
        identity_unknown=unknown,
    )


# --- normalisation ----------------------------------------------------------------------


def test_names_are_lower_cased_with_single_spaces() -> None:
    assert normalise_name("  AIDEN   James ") == "aiden james"


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Zoë", "zoe"),
        ("José", "jose"),
        ("Łucja", "lucja"),
        ("Søren", "soren"),
        ("Ægir", "aegir"),
        ("Straße", "strasse"),
    ],
)
def test_diacritics_and_special_letters_fold_to_plain_letters(raw: str, normalised: str) -> None:
    assert normalise_name(raw) == normalised


def test_apostrophes_join_the_name_and_hyphens_become_spaces() -> None:
    assert normalise_name("O'Quill") == "oquill"
    assert normalise_name("O\u2019Quill") == "oquill"
    assert normalise_name("Fenwick-Quill") == "fenwick quill"


def test_letters_of_other_scripts_are_kept() -> None:
    assert normalise_name("Анна") == "анна"


@pytest.mark.parametrize("placeholder", ["Unknown", "NOT KNOWN", "n/k", "Baby", "unborn", "  "])
def test_placeholders_and_blank_names_are_no_name_at_all(placeholder: str) -> None:
    assert normalise_name(placeholder) is None


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [("zz14qx", "ZZ1 4QX"), ("  zz1   4qx ", "ZZ1 4QX"), ("ZZ1A 4QX", "ZZ1A 4QX"), ("zz1", "ZZ1")],
)
def test_postcodes_are_upper_cased_and_spaced_before_the_inward_code(
    raw: str, normalised: str
) -> None:
    assert normalise_postcode(raw) == normalised


def test_normalising_a_key_normalises_every_field_and_is_idempotent() -> None:
    key = child(" ZOË ", "Fenwick-Quill", postcode="zz14qx")

    once = normalise(key)

    assert once == child("zoe", "fenwick quill", postcode="ZZ1 4QX")
    assert normalise(once) == once


# --- spelling variants that must match --------------------------------------------------


@pytest.mark.parametrize(
    ("first_a", "first_b"),
    [
        ("Aiden", "Aidan"),
        ("Mohammed", "Muhammad"),
        ("Mohamed", "Mohammed"),
        ("Siobhan", "Shivon"),
        ("Niamh", "Neve"),
        ("Katie", "Katy"),
        ("Caitlin", "Kaitlyn"),
        ("Jayden", "Jaiden"),
        ("Stephen", "Steven"),
        ("Sophie", "Sofie"),
        ("Micheal", "Michael"),
        ("Mathew", "Matthew"),
        ("Zoë", "Zoey"),
        ("Anne-Marie", "Annemarie"),
        ("Christopher", "Kristopher"),
        ("Mary Ann", "Mary"),
    ],
)
def test_first_name_spelling_variants_of_the_same_child_match(first_a: str, first_b: str) -> None:
    result = match_score(child(first_a), child(first_b))

    assert result.score >= PROBABLE_MATCH_THRESHOLD
    assert is_probable_match(child(first_a), child(first_b))


@pytest.mark.parametrize(
    ("last_a", "last_b"),
    [
        ("O'Quill", "OQUILL"),
        ("Smith", "Smyth"),
        ("MacQuarrie", "McQuarrie"),
        ("Thompsett", "Thomsett"),
        ("Fenwick-Quill", "Quill"),
        ("Quillfeather", "Quilfeather"),
    ],
)
def test_last_name_spelling_variants_of_the_same_child_match(last_a: str, last_b: str) -> None:
    assert is_probable_match(child(last=last_a), child(last=last_b))


def test_the_same_child_written_differently_scores_as_exactly_the_same() -> None:
    result = match_score(child("  aiden ", "QUILLFEATHER"), child("Aiden", "Quillfeather"))

    assert result.score == pytest.approx(0.90)
    assert result.reasons[:3] == [
        "date of birth the same",
        "first name the same",
        "last name the same",
    ]


def test_same_dob_and_both_names_only_variants_is_still_a_match() -> None:
    result = match_score(child("Aiden", "Smith"), child("Aidan", "Smyth"))

    assert result.score == pytest.approx(0.80)
    assert "first name sounds alike" in result.reasons


def test_first_and_last_names_swapped_still_match() -> None:
    result = match_score(child("Aiden", "Quillfeather"), child("Quillfeather", "Aiden"))

    assert result.score == pytest.approx(0.85)
    assert "first and last names swapped" in result.reasons


def test_swapped_names_with_a_spelling_variant_still_match() -> None:
    assert is_probable_match(child("Aiden", "Quillfeather"), child("Quillfeather", "Aidan"))


def test_swapped_names_both_misspelt_need_the_postcode_too() -> None:
    a = child("Aiden", "Smith", postcode=POSTCODE)
    b = child("Smyth", "Aidan", postcode=POSTCODE)

    assert not is_probable_match(a, child("Smyth", "Aidan"))
    assert is_probable_match(a, b)


def test_the_same_postcode_strengthens_a_match() -> None:
    without = match_score(child("Aiden", "Smith"), child("Aidan", "Smyth"))
    with_postcode = match_score(
        child("Aiden", "Smith", postcode="zz14qx"), child("Aidan", "Smyth", postcode=POSTCODE)
    )

    assert with_postcode.score > without.score
    assert "postcode the same" in with_postcode.reasons


def test_a_different_postcode_does_not_count_against_a_match() -> None:
    result = match_score(child(postcode=POSTCODE), child(postcode="ZZ9 2AB"))

    assert result.score == pytest.approx(0.90)
    assert "postcodes differ (not counted against)" in result.reasons


def test_an_incomplete_postcode_is_not_counted_as_evidence() -> None:
    result = match_score(child(dob=None, postcode="ZZ1"), child(dob=None, postcode="zz1"))

    assert not is_probable_match(child(dob=None, postcode="ZZ1"), child(dob=None, postcode="zz1"))
    assert "postcode incomplete (not counted)" in result.reasons


# --- dates of birth ---------------------------------------------------------------------


def test_a_transposed_day_and_month_is_weaker_evidence_than_the_same_date() -> None:
    transposed = date(2019, 7, 3)

    same = match_score(child(), child())
    swapped_date = match_score(child(), child(dob=transposed))

    assert swapped_date.score == pytest.approx(0.70)
    assert swapped_date.score < same.score
    assert "date of birth with day and month transposed" in swapped_date.reasons
    assert not is_probable_match(child(), child(dob=transposed))


def test_a_transposed_day_and_month_matches_when_the_postcode_agrees() -> None:
    a = child(postcode=POSTCODE)
    b = child(dob=date(2019, 7, 3), postcode=POSTCODE)

    assert is_probable_match(a, b)


def test_a_transposition_must_keep_the_year() -> None:
    assert match_score(child(postcode=POSTCODE), child(dob=date(2018, 7, 3))).score == 0.0


def test_a_missing_dob_never_matches_on_names_alone() -> None:
    result = match_score(child(dob=None), child())

    assert result.score == pytest.approx(0.60)
    assert not is_probable_match(child(dob=None), child())
    assert not is_probable_match(child(dob=None), child(dob=None))


def test_a_missing_dob_matches_when_the_names_and_postcode_are_the_same() -> None:
    assert is_probable_match(child(dob=None, postcode=POSTCODE), child(postcode="zz14qx"))


def test_a_missing_dob_with_only_a_variant_name_stays_below_the_threshold() -> None:
    a = child("Aiden", dob=None, postcode=POSTCODE)

    assert match_score(a, child("Aidan", postcode=POSTCODE)).score == pytest.approx(0.75)
    assert not is_probable_match(a, child("Aidan", postcode=POSTCODE))


# --- near misses that must not match ----------------------------------------------------


def test_siblings_with_the_same_surname_and_postcode_are_not_the_same_child() -> None:
    older = child("Aiden", "Quillfeather", date(2016, 1, 12), POSTCODE)
    younger = child("Maisie", "Quillfeather", date(2019, 9, 30), POSTCODE)

    result = match_score(older, younger)

    assert result.score == 0.0
    assert "dates of birth differ" in result.reasons
    assert "first name different" in result.reasons


def test_children_with_the_same_name_but_different_dobs_are_not_the_same_child() -> None:
    a = child("Aiden", "Quillfeather", date(2016, 1, 12), POSTCODE)
    b = child("Aiden", "Quillfeather", date(2019, 9, 30), POSTCODE)

    assert match_score(a, b).score == 0.0


@pytest.mark.parametrize(
    ("twin_a", "twin_b"),
    [
        ("Olivia", "Oliver"),
        ("Millie", "Mollie"),
        ("Lily", "Lola"),
        ("Jack", "Jake"),
        ("Tom", "Tim"),
        ("Eli", "Ella"),
        ("Harvey", "Harley"),
        ("Harry", "Harriet"),
        ("Daniel", "Danielle"),
        ("Louis", "Louise"),
        ("Paul", "Paula"),
        ("Alexander", "Alexandra"),
        ("Francis", "Frances"),
        ("Noah", "Nora"),
    ],
)
def test_twins_with_the_same_dob_surname_and_postcode_but_different_first_names_do_not_match(
    twin_a: str, twin_b: str
) -> None:
    a = child(twin_a, "Quillfeather", DOB, POSTCODE)
    b = child(twin_b, "Quillfeather", DOB, POSTCODE)

    result = match_score(a, b)

    assert result.score == 0.0
    assert not is_probable_match(a, b, threshold=0.01)


def test_the_same_first_name_and_dob_with_a_different_surname_does_not_match() -> None:
    assert match_score(child(last="Quillfeather"), child(last="Ashgrove")).score == 0.0


# --- unknown identity -------------------------------------------------------------------


def test_a_child_flagged_identity_unknown_never_matches() -> None:
    unknown = child(unknown=True, postcode=POSTCODE)

    result = match_score(unknown, child(postcode=POSTCODE))

    assert result == MatchResult(0.0, ["identity unknown: never matched"])


def test_two_unknown_children_with_the_same_dob_and_postcode_never_match() -> None:
    a = child(None, None, DOB, POSTCODE, unknown=True)
    b = child(None, None, DOB, POSTCODE, unknown=True)

    assert match_score(a, b).score == 0.0


@pytest.mark.parametrize(
    ("first", "last"),
    [("Unknown", "Quillfeather"), ("Baby", "Quillfeather"), (None, "Quillfeather")],
)
def test_a_child_without_a_real_first_name_is_treated_as_unknown(
    first: str | None, last: str
) -> None:
    a = child(first, last, DOB, POSTCODE)

    assert not a.is_identified
    assert match_score(a, child(first, last, DOB, POSTCODE)).score == 0.0


# --- scores, reasons, thresholds --------------------------------------------------------


def test_scores_stay_between_zero_and_one() -> None:
    result = match_score(child(postcode=POSTCODE), child(postcode=POSTCODE))

    assert result.score == 1.0


def test_reasons_never_quote_a_name_a_date_or_a_postcode() -> None:
    a = child("Siobhan", "Fenwick-Quill", DOB, POSTCODE)
    b = child("Quill", "Shivon", date(2019, 7, 3), POSTCODE)

    text = " ".join(match_score(a, b).reasons).lower()

    for word in ("siobhan", "shivon", "fenwick", "quill", "2019", "zz1", "4qx"):
        assert word not in text
    assert not re.search(r"\d", text)


def test_a_caller_may_demand_a_stricter_threshold() -> None:
    a, b = child("Aiden", "Smith"), child("Aidan", "Smyth")

    assert is_probable_match(a, b)
    assert not is_probable_match(a, b, threshold=0.9)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01])
def test_a_nonsensical_threshold_is_rejected(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        is_probable_match(child(), child(), threshold=threshold)


# --- repeats within the window ----------------------------------------------------------


def test_a_repeat_within_the_window_from_another_agency_is_found() -> None:
    recent = [
        ("police-1", NOW - timedelta(days=3), child("Aidan")),
        ("health-7", NOW - timedelta(days=1), child("Maisie")),
    ]

    repeats = find_repeats(child("Aiden"), recent, WINDOW, NOW)

    assert [contact_id for contact_id, _ in repeats] == ["police-1"]
    assert repeats[0][1].score >= PROBABLE_MATCH_THRESHOLD


def test_every_repeat_is_returned_for_linking_best_match_first_then_most_recent() -> None:
    recent = [
        ("education-2", NOW - timedelta(days=10), child("Aidan")),
        ("police-1", NOW - timedelta(days=20), child("Aiden")),
        ("health-3", NOW - timedelta(days=2), child("Aiden")),
        ("housing-4", NOW - timedelta(days=5), child("Aiden", postcode=POSTCODE)),
    ]

    repeats = find_repeats(child("Aiden", postcode=POSTCODE), recent, WINDOW, NOW)

    assert [contact_id for contact_id, _ in repeats] == [
        "housing-4",
        "health-3",
        "police-1",
        "education-2",
    ]


def test_a_contact_received_exactly_one_window_ago_is_inside_the_window() -> None:
    recent = [("police-1", NOW - WINDOW, child())]

    assert [c for c, _ in find_repeats(child(), recent, WINDOW, NOW)] == ["police-1"]


def test_a_contact_received_a_second_before_the_window_is_outside_it() -> None:
    recent = [("police-1", NOW - WINDOW - timedelta(seconds=1), child())]

    assert find_repeats(child(), recent, WINDOW, NOW) == []


def test_a_contact_received_at_this_instant_is_inside_the_window() -> None:
    recent = [("police-1", NOW, child())]

    assert len(find_repeats(child(), recent, WINDOW, NOW)) == 1


def test_a_contact_stamped_after_now_is_left_out() -> None:
    recent = [("police-1", NOW + timedelta(seconds=1), child())]

    assert find_repeats(child(), recent, WINDOW, NOW) == []


def test_the_window_is_compared_as_instants_whatever_the_time_zone() -> None:
    from datetime import timezone

    bst = timezone(timedelta(hours=1))
    just_inside = (NOW - WINDOW).astimezone(bst)

    assert len(find_repeats(child(), [("police-1", just_inside, child())], WINDOW, NOW)) == 1


def test_a_shorter_window_is_configurable() -> None:
    recent = [("police-1", NOW - timedelta(days=3), child())]

    assert find_repeats(child(), recent, timedelta(days=2), NOW) == []
    assert len(find_repeats(child(), recent, timedelta(days=3), NOW)) == 1


def test_contact_ids_of_any_type_come_back_as_given() -> None:
    contact_id = uuid.uuid4()

    repeats = find_repeats(child(), [(contact_id, NOW, child())], WINDOW, NOW)

    assert repeats[0][0] is contact_id


def test_an_unknown_child_has_no_repeats() -> None:
    recent = [("police-1", NOW, child(None, None, DOB, POSTCODE, unknown=True))]

    assert find_repeats(child(None, None, DOB, POSTCODE, unknown=True), recent, WINDOW, NOW) == []


def test_twins_in_the_window_are_not_repeats_of_each_other() -> None:
    recent = [("police-1", NOW - timedelta(hours=2), child("Oliver", postcode=POSTCODE))]

    assert find_repeats(child("Olivia", postcode=POSTCODE), recent, WINDOW, NOW) == []


def test_a_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        find_repeats(child(), [], WINDOW, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        find_repeats(child(), [("police-1", NOW.replace(tzinfo=None), child())], WINDOW, NOW)


def test_a_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        find_repeats(child(), [], timedelta(0), NOW)
