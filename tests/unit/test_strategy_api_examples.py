"""The strategy API page's "Try it out" examples are valid requests (DOMAIN.md §7): each
request model's example validates against the model, and the rules the API applies on top
(the s47 outcome's next step, the ladder's stage 1 roles, the required invitees) accept it.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from mashcore.policy.model import default_escalation_ladder
from strategy import api_models, rules

MODELS = [api_models.DiscussionRequestIn, api_models.ScheduleIn, api_models.CancelIn,
          api_models.HeldIn, api_models.MinutesIn, api_models.S47OutcomeIn,
          api_models.S47AgreementIn, api_models.EscalationIn, api_models.EscalationAnswerIn,
          api_models.EscalateIn]


def examples(model: type[BaseModel]) -> list[dict[str, object]]:
    found = model.model_json_schema().get("examples", [])
    assert isinstance(found, list)
    return found


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_request_model_has_an_example_that_validates(model: type[BaseModel]) -> None:
    assert examples(model), f"{model.__name__} has no example for Try it out"
    for example in examples(model):
        model.model_validate(example)


def test_the_examples_pass_the_rules_the_api_applies() -> None:
    schedule = api_models.ScheduleIn.model_validate(examples(api_models.ScheduleIn)[0])
    assert schedule.ends_at > schedule.starts_at
    assert rules.missing_roles([p.model_dump() for p in schedule.invitees], "invitees") == []
    held = api_models.HeldIn.model_validate(examples(api_models.HeldIn)[0])
    assert rules.missing_roles([p.model_dump() for p in held.attendees], "attendees") == []
    outcome = api_models.S47OutcomeIn.model_validate(examples(api_models.S47OutcomeIn)[0])
    assert rules.next_step_errors(outcome.outcome, outcome.next_step) == []
    ladder = default_escalation_ladder()
    raised = api_models.EscalationIn.model_validate(examples(api_models.EscalationIn)[0])
    assert rules.escalated_to_errors(ladder, 1, raised.escalated_to.role,
                                     raised.escalated_to.user_id, []) == []
    up = api_models.EscalateIn.model_validate(examples(api_models.EscalateIn)[0])
    assert rules.escalated_to_errors(ladder, 2, up.escalated_to.role, up.escalated_to.user_id,
                                     [raised.escalated_to.user_id]) == []
