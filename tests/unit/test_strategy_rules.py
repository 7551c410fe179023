"""The rules of strategy discussions and s47 outcomes (DOMAIN.md §7), without I/O."""

from __future__ import annotations

import pytest

from mashcore.policy.model import default_escalation_ladder
from strategy import rules

LADDER = default_escalation_ladder()


def test_a_discussion_needs_a_social_worker_health_and_police_and_names_what_is_missing() -> None:
    assert rules.missing_roles([{"role": "social_worker", "agency": "local_authority"},
                                {"role": "practitioner", "agency": "health"},
                                {"role": "navigator", "agency": "police"}], "invitees") == []
    missing = rules.missing_roles([{"role": "practitioner", "agency": "health"}], "attendees")
    assert [field for field, _ in missing] == ["attendees", "attendees"]
    assert "social worker" in missing[0][1] and "police" in missing[1][1]


@pytest.mark.parametrize(("agency", "invited"), [
    ("education", True), ("health", True), ("public", False), (None, False)])
def test_the_referrer_is_invitable_only_when_a_professional(agency: str | None,
                                                            invited: bool) -> None:
    assert rules.referrer_invitable(agency) is invited


@pytest.mark.parametrize(("outcome", "allowed"), [
    ("not_substantiated", {"no_further_action", "supportive_services"}),
    ("substantiated_no_continuing_risk", {"supportive_services", "plan_without_conference"}),
    ("substantiated_continuing_risk", {"icpc"}),
])
def test_each_s47_outcome_allows_only_its_next_steps(outcome: str, allowed: set[str]) -> None:
    steps = {"no_further_action", "supportive_services", "plan_without_conference", "icpc"}
    for step in steps:
        errors = rules.next_step_errors(outcome, step)
        assert (errors == []) is (step in allowed)
        if errors:
            assert errors[0][0] == "next_step"


def test_children_are_named_by_place_each_once_within_the_case() -> None:
    assert rules.children_errors([1, 2], 2, "child_numbers") == []
    assert rules.children_errors([], 2, "child_numbers")
    assert rules.children_errors([1, 1], 2, "child_numbers")
    assert rules.children_errors([3], 2, "child_numbers")[0][0] == "child_numbers"


def test_a_held_discussion_decides_s47_for_exactly_its_children() -> None:
    assert rules.s47_decision_errors({1: True, 2: False}, [1, 2], "s47_decisions") == []
    assert len(rules.s47_decision_errors({1: True, 3: False}, [1, 2], "s47_decisions")) == 2


def test_each_stage_of_thedefault_escalation_ladder_is_answered_by_its_own_roles() -> None:
    ladder = LADDER
    assert rules.escalated_to_errors(ladder, 1, "team_manager", "tm-1", []) == []
    assert rules.escalated_to_errors(ladder, 2, "designated_safeguarding_lead", "d", []) == []
    assert rules.escalated_to_errors(ladder, 3, "deputy_director", "d", []) == []
    assert rules.escalated_to_errors(ladder, 4, "partnership_representative", "p", []) == []
    assert rules.escalated_to_errors(ladder, 1, "service_manager", "s", [])[0][0] == \
        "escalated_to.role"
    assert [f for f, _ in rules.escalated_to_errors(ladder, 5, "team_manager", "t", [])] == [
        "escalated_to"]
    assert len(ladder) == 4


def test_a_stage_goes_up_to_someone_who_has_not_answered_an_earlier_one() -> None:
    errors = rules.escalated_to_errors(LADDER, 2, "service_manager", "tm-1", ["tm-1"])
    assert [f for f, _ in errors] == ["escalated_to.user_id"]


def test_only_the_ladder_s_token_roles_answer_a_stage() -> None:
    assert rules.may_answer(LADDER, 1, "team_manager")
    assert rules.may_answer(LADDER, 4, "navigator")
    assert not rules.may_answer(LADDER, 2, "social_worker")
    assert not rules.may_answer(LADDER, 2, "business_support")
    assert not rules.may_answer(LADDER, 5, "team_manager")
