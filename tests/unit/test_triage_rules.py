"""Triage's pure rules: decision support, the consent gate, decision errors and deadlines.

Expected levels are read from the shipped packs in policy/partnerships (DOMAIN.md §5, §6).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mashcore.policy import PolicyBook, PolicyPack
from triage import rules
from triage.decision_support import Facts, Suggestion, suggest

pytestmark = pytest.mark.unit

PACKS = Path(__file__).resolve().parents[2] / "policy" / "partnerships"
SEEDS = ("coventry", "medway", "nottingham", "cambridgeshire-peterborough")
RECEIVED = date(2026, 11, 23)
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def book() -> PolicyBook:
    return PolicyBook.load(PACKS)


@pytest.fixture(scope="module")
def default(book: PolicyBook) -> PolicyPack:
    return book.for_partnership("default")


def matched(suggestion: Suggestion) -> dict[str, tuple[str, ...]]:
    """Matched indicator code -> every reason it matched."""
    return {m.indicator.code: m.because for m in suggestion.matches}


# --- decision support: keywords ----------------------------------------------------------------


def test_a_keyword_matches_as_a_whole_word(default: PolicyPack) -> None:
    result = suggest(default, Facts(concern="The child says she is suicidal."))
    assert matched(result) == {
        "cd-self-harm-suicidal": ("the concern mentions 'suicidal'",),
    }


@pytest.mark.parametrize(
    "concern", ["Assessed for suicidality last year.", "Suicides in the news upset him."],
)
def test_a_keyword_inside_a_longer_word_does_not_match(
    default: PolicyPack, concern: str
) -> None:
    # 'suicidal' runs on into 'suicidality', and 'suicide' into 'suicides'.
    result = suggest(default, Facts(concern=concern))
    assert result.matches == ()
    assert result.level_code is None


def test_a_keyword_after_a_word_character_does_not_match(default: PolicyPack) -> None:
    assert suggest(default, Facts(concern="presuicidal thoughts")).matches == ()
    assert suggest(default, Facts(concern="suicidal_thoughts")).matches == ()


def test_keywords_match_whatever_the_case(default: PolicyPack) -> None:
    result = suggest(default, Facts(concern="Mother was DRUNK at the school gate."))
    assert matched(result) == {"pc-substance-misuse": ("the concern mentions 'drunk'",)}


def test_a_multi_word_keyword_matches_across_spaces_and_newlines(default: PolicyPack) -> None:
    concern = "History of parental Substance\n   misuse; several Missed\tAppointments."
    result = suggest(default, Facts(concern=concern))
    assert matched(result) == {
        "pc-substance-misuse": ("the concern mentions 'substance misuse'",),
        "cd-missed-checks": ("the concern mentions 'missed appointments'",),
    }


def test_a_multi_word_keyword_needs_all_its_words(default: PolicyPack) -> None:
    assert suggest(default, Facts(concern="substance use and missed the bus")).matches == ()


def test_a_hyphenated_keyword_matches_and_punctuation_bounds_it(default: PolicyPack) -> None:
    result = suggest(default, Facts(concern="Possible (non-mobile) infant injury."))
    assert "cd-non-mobile-injury" in matched(result)


# --- decision support: ticks and unknown codes -------------------------------------------------


def test_each_tick_gives_its_own_reason(default: PolicyPack) -> None:
    facts = Facts(
        ticked_by_referrer=["cd-missed-checks"],
        ticked_by_information_officer=["cd-missed-checks", "fe-housing"],
        ticked_by_team_manager=["cd-missed-checks"],
    )
    assert matched(suggest(default, facts)) == {
        "cd-missed-checks": ("ticked by the referrer", "ticked by the information officer",
                             "ticked by the team manager"),
        "fe-housing": ("ticked by the information officer",),
    }


def test_a_tick_and_a_keyword_are_both_reasons(default: PolicyPack) -> None:
    facts = Facts(concern="Facing eviction next week.", ticked_by_team_manager=["fe-housing"])
    assert matched(suggest(default, facts)) == {
        "fe-housing": ("ticked by the team manager", "the concern mentions 'eviction'"),
    }


def test_unknown_ticked_codes_are_reported_once_each_in_order(default: PolicyPack) -> None:
    facts = Facts(ticked_by_referrer=["zz-made-up", "cd-missed-checks"],
                  ticked_by_team_manager=["aa-typo", "zz-made-up"])
    result = suggest(default, facts)
    assert result.unknown_codes == ("aa-typo", "zz-made-up")
    assert list(matched(result)) == ["cd-missed-checks"]


def test_unknown_codes_are_reported_even_when_nothing_matches(default: PolicyPack) -> None:
    result = suggest(default, Facts(ticked_by_information_officer=["nope"]))
    assert result.level_code is None
    assert result.unknown_codes == ("nope",)


# --- decision support: signals -----------------------------------------------------------------


def test_the_domestic_abuse_flag_is_a_signal(default: PolicyPack) -> None:
    facts = Facts(domestic_abuse=True, domestic_abuse_risk="medium")
    assert facts.signals() == {"domestic_abuse"}
    result = suggest(default, facts)
    assert matched(result) == {
        "fe-domestic-abuse": ("the referral is flagged as domestic abuse",),
    }
    assert (result.level_code, result.brag) == ("L2", "green")


def test_high_risk_domestic_abuse_needs_the_flag_and_high_risk(default: PolicyPack) -> None:
    assert Facts(domestic_abuse=True, domestic_abuse_risk="high").signals() == {
        "domestic_abuse", "domestic_abuse_high_risk",
    }
    assert Facts(domestic_abuse=False, domestic_abuse_risk="high").signals() == set()
    assert Facts(domestic_abuse=True, domestic_abuse_risk=None).signals() == {"domestic_abuse"}
    result = suggest(default, Facts(domestic_abuse=True, domestic_abuse_risk="high"))
    assert set(matched(result)) == {"fe-domestic-abuse", "fe-domestic-abuse-high-risk"}
    assert (result.level_code, result.level_name, result.brag) == (
        "L4", "Child protection", "red")


@pytest.mark.parametrize(
    ("born", "expected"),
    [
        (date(2025, 11, 24), {"child_under_1"}),  # first birthday tomorrow
        (date(2025, 11, 23), set()),  # first birthday today
        (date(2026, 11, 23), {"child_under_1"}),  # born the day received
        (date(2010, 11, 23), {"child_16_or_over"}),  # sixteenth birthday today
        (date(2010, 11, 24), set()),  # sixteenth birthday tomorrow
        (date(2003, 1, 1), {"child_16_or_over"}),
        (date(2018, 6, 1), set()),
    ],
)
def test_age_signals_are_worked_out_on_the_received_date(
    born: date, expected: set[str]
) -> None:
    assert Facts(children_dates_of_birth=[born], received_on=RECEIVED).signals() == expected


def test_a_leap_day_birthday_is_reached_on_29_february_in_a_leap_year() -> None:
    born = date(2008, 2, 29)
    assert Facts(children_dates_of_birth=[born], received_on=date(2024, 2, 28)).signals() == set()
    assert Facts(children_dates_of_birth=[born], received_on=date(2024, 2, 29)).signals() == {
        "child_16_or_over"}


def test_several_children_and_unknown_dates_of_birth() -> None:
    facts = Facts(children_dates_of_birth=[None, date(2026, 5, 1), date(2009, 1, 1)],
                  received_on=RECEIVED)
    assert facts.signals() == {"child_under_1", "child_16_or_over"}


def test_no_age_signals_without_the_received_date() -> None:
    assert Facts(children_dates_of_birth=[date(2026, 5, 1)]).signals() == set()


def test_referral_signals_are_passed_through(book: PolicyBook) -> None:
    facts = Facts(referral_signals=["unborn_child", "young_parent_under_18"])
    assert facts.signals() == {"unborn_child", "young_parent_under_18"}
    result = suggest(book.for_partnership("cambridgeshire-peterborough"), facts)
    assert matched(result) == {
        "cd-unborn-pre-birth": ("the referral is about an unborn baby",),
        "pc-parent-under-18": ("a parent or carer is under 18",),
    }
    assert (result.level_code, result.level_name, result.brag) == ("L3", "Child in need", "amber")


# --- decision support: the suggestion ----------------------------------------------------------


def test_the_suggestion_is_the_highest_level_matched(default: PolicyPack) -> None:
    facts = Facts(concern="Missed appointments; father drunk most evenings.",
                  domestic_abuse=True)
    result = suggest(default, facts)
    assert (result.level_code, result.level_name, result.brag) == ("L3", "Child in need", "amber")
    # Highest level first, then by code.
    assert [m.indicator.code for m in result.matches] == [
        "pc-substance-misuse", "cd-missed-checks", "fe-domestic-abuse",
    ]
    assert [m.level_name for m in result.matches] == ["Child in need", "Early help", "Early help"]
    assert result.explanation.startswith(
        "Child in need: the highest level among 3 matched indicators (1 at this level).")


def test_one_match_is_explained_in_the_singular(default: PolicyPack) -> None:
    result = suggest(default, Facts(concern="tenancy ending"))
    assert result.explanation.startswith(
        "Early help: the highest level among 1 matched indicator (1 at this level).")


def test_no_match_suggests_no_level_and_says_why(default: PolicyPack) -> None:
    result = suggest(default, Facts(concern="Family moved house last spring."))
    assert (result.level_code, result.level_name, result.brag) == (None, None, None)
    assert result.matches == ()
    assert "No threshold indicator matched" in result.explanation


def test_the_same_facts_give_each_seed_pack_its_own_level(book: PolicyBook) -> None:
    # 'suicidal' is a keyword in Coventry (L3), Medway (L3) and Cambridgeshire (L3);
    # 'FGM' in Coventry (L4), Medway (L3) and Nottingham (L5).
    facts = Facts(concern="She feels suicidal and fears her family plan FGM this summer.")
    expected = {
        "coventry": ("L4", "L4 Statutory", "amber"),
        "medway": ("L3", "Level 3 Complex/multiple needs or in need of protection", "amber"),
        "nottingham": ("L5", "Protection", "red"),
        "cambridgeshire-peterborough": ("L3", "Child in need", "amber"),
    }
    got = {}
    for name in SEEDS:
        pack = book.for_partnership(name)
        result = suggest(pack, facts)
        got[name] = (result.level_code, result.level_name, result.brag)
        assert result.level_name in [level.name for level in pack.levels], name
    assert got == expected
    assert len({name for _, name, _ in got.values()}) == len(SEEDS)


# --- the consent gate --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concerns", "consent", "applies"),
    [
        (True, "given", False),
        (True, "refused", False),
        (True, "not_sought", False),
        (False, "given", False),
        (False, "refused", True),
        (False, "not_sought", True),
        (False, "unknown", True),
    ],
)
def test_the_gate_applies_only_without_concerns_and_without_consent(
    concerns: bool, consent: str, applies: bool
) -> None:
    assert rules.gate_applies(concerns, consent) is applies


@pytest.mark.parametrize(
    ("outcome", "needs"),
    [("early_help_hub", True), ("closed", True), ("returned_to_referrer", False)],
)
def test_forwarding_or_closing_at_the_gate_needs_a_manager(outcome: str, needs: bool) -> None:
    assert rules.gate_needs_manager(outcome) is needs


# --- decision errors ---------------------------------------------------------------------------


def errors(pack: PolicyPack, **changes: Any) -> list[tuple[str, str]]:
    """decision_errors for a valid Amber decision with consent, with changes."""
    decision: dict[str, Any] = {
        "level_code": "L3", "brag": "amber", "route": "mash_enquiries",
        "consent_to_referral": "given", "proceeding_without_consent": False,
        "without_consent_reason": None, "without_consent_basis": None,
    }
    decision.update(changes)
    return rules.decision_errors(pack, **decision)


def fields(found: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in found]


def test_a_valid_decision_has_no_errors(default: PolicyPack) -> None:
    assert errors(default) == []
    assert errors(default, level_code="L1", brag="blue", route="nfa") == []


def test_an_unknown_level_is_named_with_the_levels(default: PolicyPack) -> None:
    found = errors(default, level_code="L9")
    assert fields(found) == ["level_code"]
    assert "'L9'" in found[0][1]
    assert "L1, L2, L3, L4" in found[0][1]


def test_medway_has_no_level_4(book: PolicyBook) -> None:
    found = errors(book.for_partnership("medway"), level_code="L4")
    assert fields(found) == ["level_code"]
    assert found[0][1].endswith("the levels are L1, L2, L3")


def test_a_route_the_colour_does_not_allow_is_named(default: PolicyPack) -> None:
    found = errors(default, brag="blue", level_code="L1", route="mash_enquiries")
    assert fields(found) == ["route"]
    assert "'mash_enquiries'" in found[0][1]
    assert "nfa, information_and_advice, allocated_worker" in found[0][1]


@pytest.mark.parametrize(("brag", "route"), [("blue", "nfa"), ("green", "early_help")])
def test_blue_or_green_cannot_proceed_without_consent(
    default: PolicyPack, brag: str, route: str
) -> None:
    found = errors(default, brag=brag, route=route, consent_to_referral="refused",
                   proceeding_without_consent=True, without_consent_reason="risk to child",
                   without_consent_basis="s47")
    assert fields(found) == ["proceeding_without_consent"]
    assert "Amber or Red" in found[0][1]


@pytest.mark.parametrize("brag", ["amber", "red"])
def test_amber_or_red_can_proceed_without_consent_with_reason_and_basis(
    default: PolicyPack, brag: str
) -> None:
    assert errors(default, brag=brag, consent_to_referral="refused",
                  proceeding_without_consent=True,
                  without_consent_reason="seeking consent would put the child at risk",
                  without_consent_basis="Children Act 1989 s47") == []


def test_proceeding_without_consent_needs_a_reason_and_a_basis(default: PolicyPack) -> None:
    found = errors(default, consent_to_referral="refused", proceeding_without_consent=True)
    assert fields(found) == ["without_consent_reason", "without_consent_basis"]
    blank = errors(default, consent_to_referral="refused", proceeding_without_consent=True,
                   without_consent_reason="", without_consent_basis="")
    assert fields(blank) == ["without_consent_reason", "without_consent_basis"]


@pytest.mark.parametrize(
    ("brag", "route"),
    [("amber", "mash_enquiries"), ("red", "strategy_discussion"), ("green", "early_help"),
     ("amber", "allocated_worker")],
)
@pytest.mark.parametrize("consent", ["refused", "not_sought", "unknown"])
def test_routes_acting_on_the_family_need_consent_or_an_override(
    default: PolicyPack, brag: str, route: str, consent: str
) -> None:
    found = errors(default, brag=brag, route=route, consent_to_referral=consent)
    assert fields(found) == ["consent_to_referral"]
    assert f"{consent!r}" in found[0][1] and f"{route!r}" in found[0][1]


@pytest.mark.parametrize(
    ("brag", "route"),
    [("blue", "nfa"), ("blue", "information_and_advice"), ("green", "information_and_advice")],
)
def test_routes_not_acting_on_the_family_need_no_consent(
    default: PolicyPack, brag: str, route: str
) -> None:
    assert errors(default, brag=brag, route=route, consent_to_referral="refused") == []


def test_there_is_nothing_to_override_when_consent_was_given(default: PolicyPack) -> None:
    found = errors(default, consent_to_referral="given", proceeding_without_consent=True,
                   without_consent_reason="risk", without_consent_basis="s47")
    assert fields(found) == ["proceeding_without_consent"]
    assert "consent to the referral was given" in found[0][1]


# --- deadlines ---------------------------------------------------------------------------------


def test_enquiries_are_due_in_4_hours_for_red_and_24_for_amber(default: PolicyPack) -> None:
    assert rules.enquiries_due(default, "red", START) == START + timedelta(hours=4)
    assert rules.enquiries_due(default, "amber", START) == START + timedelta(hours=24)


@pytest.mark.parametrize("brag", ["blue", "green"])
def test_colours_without_enquiries_have_no_deadline(default: PolicyPack, brag: str) -> None:
    assert rules.enquiries_due(default, brag, START) is None


def test_re_rating_up_runs_the_shorter_timescale_from_now(default: PolicyPack) -> None:
    now = START + timedelta(hours=2)
    due = rules.re_rated_enquiries_due(
        default, previous_brag="amber", new_brag="red", started_at=START,
        current_due=START + timedelta(hours=24), now=now)
    assert due == now + timedelta(hours=4)


def test_re_rating_up_never_extends_the_current_deadline(default: PolicyPack) -> None:
    current = START + timedelta(hours=24)
    due = rules.re_rated_enquiries_due(
        default, previous_brag="amber", new_brag="red", started_at=START,
        current_due=current, now=START + timedelta(hours=22))
    assert due == current


def test_re_rating_down_runs_from_when_enquiries_started(default: PolicyPack) -> None:
    due = rules.re_rated_enquiries_due(
        default, previous_brag="red", new_brag="amber", started_at=START,
        current_due=START + timedelta(hours=4), now=START + timedelta(hours=3))
    assert due == START + timedelta(hours=24)


@pytest.mark.parametrize(("previous", "new"), [("amber", "green"), ("red", "blue")])
def test_re_rating_to_a_colour_without_enquiries_keeps_the_deadline(
    default: PolicyPack, previous: str, new: str
) -> None:
    current = START + timedelta(hours=4)
    due = rules.re_rated_enquiries_due(
        default, previous_brag=previous, new_brag=new, started_at=START,
        current_due=current, now=START + timedelta(hours=1))
    assert due == current


@pytest.mark.parametrize(("brag", "concerns", "refused"), [
    ("red", False, True), ("amber", False, True), ("red", True, False),
    ("green", False, False), ("blue", False, False)])
def test_amber_and_red_ratings_need_a_safeguarding_concern(
    brag: str, concerns: bool, refused: bool,
) -> None:
    found = rules.rating_errors(brag, concerns)
    assert fields(found) == (["safeguarding_concerns"] if refused else [])


def test_re_rating_a_decided_case_names_the_route_its_new_colour_does_not_allow(
    default: PolicyPack,
) -> None:
    found = rules.re_rating_errors(default, brag="red", route="nfa", consent_to_referral="given",
                                   proceeding_without_consent=False)
    assert fields(found) == ["route"]
    assert "mash_enquiries" in found[0][1]
    assert rules.re_rating_errors(default, brag="red", route="mash_enquiries",
                                  consent_to_referral="given",
                                  proceeding_without_consent=False) == []


def test_re_rating_below_amber_is_refused_while_proceeding_without_consent(
    default: PolicyPack,
) -> None:
    found = rules.re_rating_errors(default, brag="green", route="early_help",
                                   consent_to_referral="refused",
                                   proceeding_without_consent=True)
    assert fields(found) == ["brag"]


def test_a_new_route_acting_on_the_family_needs_consent_or_an_override(
    default: PolicyPack,
) -> None:
    found = rules.re_rating_errors(default, brag="red", route="mash_enquiries",
                                   consent_to_referral="refused",
                                   proceeding_without_consent=False)
    assert fields(found) == ["route"]
    assert rules.re_rating_errors(default, brag="red", route="mash_enquiries",
                                  consent_to_referral="refused",
                                  proceeding_without_consent=True) == []
