"""Intake's service layer refuses in domain terms; only the route turns a refusal into HTTP."""

from __future__ import annotations

import pytest

from intake.errors import Refused, refusals_as_problems
from mashcore.problems import ProblemHTTPException

pytestmark = pytest.mark.unit


def test_a_refusal_from_the_service_layer_becomes_a_409_problem_with_its_title_and_detail(
) -> None:
    with pytest.raises(ProblemHTTPException) as raised, refusals_as_problems():
        raise Refused("Advice already recorded", "The advice is already recorded.")
    assert raised.value.status_code == 409
    assert isinstance(raised.value.__cause__, Refused)
    assert raised.value.title == "Advice already recorded"
    assert raised.value.detail == "The advice is already recorded."


def test_other_errors_pass_through_the_route_mapping_unchanged() -> None:
    with pytest.raises(LookupError), refusals_as_problems():
        raise LookupError("not a refusal")
