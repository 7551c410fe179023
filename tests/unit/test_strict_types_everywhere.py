"""Every service's request bodies and query parameters parse dates, numbers and booleans strictly.

Issue 12 review: the strategy service (added after mashcore.strict_types) still declared its
instants as pydantic's ``AwareDatetime`` and its flags and child numbers as plain ``bool`` and
``int``, so ``"starts_at": 1800000000`` became a meeting in 2027, ``"held_at": 0`` became 1970,
``"s47": "yes"`` opened an s47 enquiry and ``"child_number": "1"`` passed. Two checks:

- the strategy operations themselves answer 422 naming the field (the real app, over ASGI;
  the 422 comes before any database work);
- a structural check over every route of every service: each ``date``, ``datetime``, ``int``,
  ``float`` and ``bool`` a request body can carry, and each date or instant in a query, is one
  of mashcore.strict_types, so a new endpoint cannot bring the lax parsing back.
"""

from __future__ import annotations

import types
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    FutureDate,
    FutureDatetime,
    NaiveDatetime,
    PastDate,
    PastDatetime,
    Strict,
)

from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore import strict_types
from mashcore.embedded_bus import EmbeddedBus
from mashcore.service import create_app
from mashcore.settings import Settings
from tests.support import auth
from tests.unit.test_strict_types import faulty_fields, post

MEETING = "00000000-0000-4000-8000-000000000001"
ENQUIRY = "00000000-0000-4000-8000-000000000002"
ESCALATION = "00000000-0000-4000-8000-000000000003"
CASE = "MASH-2026-ABCD1234"
PEOPLE = [{"role": "social_worker", "agency": "local_authority"},
          {"role": "practitioner", "agency": "health"},
          {"role": "practitioner", "agency": "police"}]


def schedule(**fields: Any) -> dict[str, Any]:
    return {"format": "meeting", "starts_at": "2027-01-15T09:00:00Z",
            "ends_at": "2027-01-15T10:00:00Z", "location": "MASH office", "chair_id": "tm-1",
            "invitees": PEOPLE, **fields}


def held(**fields: Any) -> dict[str, Any]:
    return {"held_at": "2027-01-15T10:00:00Z", "attendees": PEOPLE,
            "criminal_investigation": "not_required",
            "s47_decisions": [{"child_number": 1, "s47": True}],
            "s47_decision_rationale": "Synthetic rationale.", **fields}


@pytest.mark.parametrize(("path", "role", "body", "field"), [
    (f"/v1/strategy-discussions/{MEETING}/schedule", "social_worker",
     schedule(starts_at=1800000000), "starts_at"),
    (f"/v1/strategy-discussions/{MEETING}/schedule", "social_worker",
     schedule(ends_at="1800003600"), "ends_at"),
    (f"/v1/strategy-discussions/{MEETING}/schedule", "social_worker",
     schedule(invite_referrer="yes"), "invite_referrer"),
    (f"/v1/strategy-discussions/{MEETING}/held", "team_manager", held(held_at=0), "held_at"),
    (f"/v1/strategy-discussions/{MEETING}/held", "team_manager",
     held(s47_decisions=[{"child_number": "1", "s47": True}]),
     "s47_decisions[0].child_number"),
    (f"/v1/strategy-discussions/{MEETING}/held", "team_manager",
     held(s47_decisions=[{"child_number": 1, "s47": 1}]), "s47_decisions[0].s47"),
    (f"/v1/strategy-discussions/{MEETING}/held", "team_manager",
     held(actions=[{"action": "Synthetic.", "owner_role": "social_worker",
                    "owner_agency": "local_authority", "due_by": 1800000000}]),
     "actions[0].due_by"),
    ("/v1/strategy-discussions", "social_worker",
     {"case_reference": CASE, "reason": "Synthetic.", "urgency": "immediate",
      "child_numbers": [True]}, "child_numbers[0]"),
    (f"/v1/s47-enquiries/{ENQUIRY}/agreement", "team_manager",
     {"agree": "true", "rationale": "Synthetic."}, "agree"),
    (f"/v1/escalations/{ESCALATION}/answer", "team_manager",
     {"resolved": 0, "resolution": "Synthetic."}, "resolved"),
], ids=["starts-number", "ends-digits", "flag-yes", "held-zero", "child-string", "s47-one",
        "due-number", "child-true", "agree-string", "resolved-zero"])
async def test_strategy_refuses_a_value_of_the_wrong_json_type_naming_the_field(
    tmp_path: Path, path: str, role: str, body: dict[str, Any], field: str,
) -> None:
    response = await post("strategy", tmp_path, path, auth(role, "local_authority"), body)
    assert faulty_fields(response) == [field]


_SCALARS = (date, datetime, int, float, bool)
_LAX_DATES = (AwareDatetime, NaiveDatetime, PastDate, FutureDate, PastDatetime, FutureDatetime)
"""pydantic's own date types: they all take numbers as Unix times."""
_STRICT_VALIDATORS = (strict_types._iso_date, strict_types._iso_date_time)


def _is_strict(metadata: list[Any]) -> bool:
    return any((isinstance(m, Strict) and m.strict) or
               (isinstance(m, BeforeValidator) and m.func in _STRICT_VALIDATORS)
               for m in metadata)


def _lax_fields(annotation: Any, metadata: list[Any], where: str, kinds: tuple[type, ...],
                seen: set[type]) -> list[str]:
    """Where a value of one of ``kinds`` is parsed without mashcore.strict_types."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return _lax_fields(args[0], [*metadata, *args[1:]], where, kinds, seen)
    if origin in (Union, types.UnionType):
        return [f for arg in args for f in _lax_fields(arg, metadata, where, kinds, seen)]
    if origin is not None:  # list[...], dict[...], tuple[...], Literal[...] (values, no types)
        return [f for arg in args if not isinstance(arg, str | int | bool | None)
                for f in _lax_fields(arg, [], f"{where}[]", kinds, seen)]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return []
        seen.add(annotation)
        return [f for name, info in annotation.model_fields.items()
                for f in _lax_fields(info.annotation, list(info.metadata),
                                     f"{where}.{name}", kinds, seen)]
    if annotation in _LAX_DATES or (annotation in kinds and not _is_strict(metadata)):
        return [f"{where}: {annotation.__name__}"]
    return []


def _query_params(dependant: Dependant) -> list[Any]:
    return [*dependant.query_params,
            *(q for sub in dependant.dependencies for q in _query_params(sub))]


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_every_request_date_number_and_boolean_is_strict(tmp_path: Path, service: str) -> None:
    (definition,) = iter_definitions([service])
    app = create_app(definition, Settings(data_dir=tmp_path),
                     bus=EmbeddedBus(tmp_path / "bus.sqlite"), manage_bus=False)
    lax: list[str] = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        name = f"{sorted(route.methods)[0]} {route.path}"
        if route.body_field is not None:
            info = route.body_field.field_info
            lax += _lax_fields(info.annotation, list(info.metadata), f"{name} body",
                               _SCALARS, set())
        for query in _query_params(route.dependant):
            info = query.field_info
            lax += _lax_fields(info.annotation, list(info.metadata),
                               f"{name} ?{query.alias}", (date, datetime), set())
    assert lax == []
