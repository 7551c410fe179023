"""A date is an ISO 8601 string, a number is a number, a boolean is true or false: else 422.

Issue 12: ``"date_of_birth": 1460246400`` became a date, ``"consulted_at": 0`` became 1970,
``?until=0.5`` parsed and ``"size_bytes": false`` was accepted. Each request goes to the real
service app (built by ``create_app``, not started): the 422 comes before any database work.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel, ValidationError

from intake.contacts.api_models import ReferralIn
from mash_app.services import iter_definitions
from mash_enquiries.api_models import AttachmentIn
from mashcore.embedded_bus import EmbeddedBus
from mashcore.problems import PROBLEM_JSON
from mashcore.service import create_app
from mashcore.settings import Settings
from mashcore.strict_types import IsoDate, IsoDateTime
from tests.support import auth, synthetic_referral

CASE = "MASH-2026-ABCD1234"
REQUEST_ID = "00000000-0000-4000-8000-000000000001"


async def post(service: str, tmp_path: Path, path: str, headers: dict[str, str],
               body: Any = None) -> httpx.Response:
    (definition,) = iter_definitions([service])
    app = create_app(definition, Settings(data_dir=tmp_path),
                     bus=EmbeddedBus(tmp_path / "bus.sqlite"), manage_bus=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as client:
        if body is None:
            return await client.get(path, headers=headers)
        return await client.post(path, headers=headers, json=body)


def faulty_fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    return [error["field"] for error in response.json()["errors"]]


def child(**fields: Any) -> dict[str, Any]:
    return {"first_name": "Synthetic", "last_name": "Child", **fields}


@pytest.mark.parametrize(("service", "path", "role", "body", "field"), [
    ("intake", "/v1/contacts", "referrer",
     synthetic_referral(children=[child(date_of_birth=1460246400)]),
     "children[0].date_of_birth"),
    ("intake", "/v1/contacts", "referrer",
     synthetic_referral(children=[child(date_of_birth="1460246400")]),
     "children[0].date_of_birth"),
    ("intake", "/v1/contacts", "referrer",
     synthetic_referral(staff_linked="yes"), "staff_linked"),
    ("intake", "/v1/contacts", "referrer",
     synthetic_referral(agency_sections={"education": {"attendance_percent": "85"}}),
     "agency_sections.education.attendance_percent"),
    ("intake", "/v1/consultations", "referrer",
     {"professional": {"role": "Nursery manager"}, "question": "Synthetic question.",
      "consulted_at": 0},
     "consulted_at"),
    ("triage", f"/v1/cases/{CASE}/rating", "information_officer",
     {"brag": "red", "safeguarding_concerns": 1}, "safeguarding_concerns"),
    ("mash-enquiries", f"/v1/requests/{REQUEST_ID}/answer", "navigator",
     {"known": True, "summary": "Synthetic.",
      "attachments": [{"name": "a.pdf", "media_type": "application/pdf",
                       "size_bytes": False}]},
     "attachments[0].size_bytes"),
    ("mash-enquiries", f"/v1/requests/{REQUEST_ID}/answer", "navigator",
     {"known": True, "summary": "Synthetic.",
      "relevant_dates": [{"date": 1755129600, "description": "Call-out"}]},
     "relevant_dates[0].date"),
    ("sla-timekeeper", "/v1/clocks/1/extension", "team_manager",
     {"new_due_at": 0, "reason_code": "other"}, "new_due_at"),
    ("sla-timekeeper", "/v1/clocks/1/extension", "team_manager",
     {"new_due_at": "1764547200", "reason_code": "other"}, "new_due_at"),
], ids=["dob-number", "dob-digits", "bool-string", "float-string", "consulted-at-zero",
        "bool-one", "size-false", "date-number", "due-zero", "due-digits"])
async def test_a_value_of_the_wrong_json_type_is_a_422_naming_the_field(
    tmp_path: Path, service: str, path: str, role: str, body: dict[str, Any], field: str,
) -> None:
    response = await post(service, tmp_path, path, auth(role, "education"), body)
    assert faulty_fields(response) == [field]


@pytest.mark.parametrize("until", ["0.5", "0", "1764547200", "2026-11-01T00:00:00"])
async def test_a_query_instant_must_be_an_iso_string_with_its_offset(
    tmp_path: Path, until: str,
) -> None:
    response = await post("mash-enquiries", tmp_path, f"/v1/performance?until={until}",
                          auth("team_manager", "local_authority"))
    assert faulty_fields(response) == ["query.until"]


def test_iso_strings_are_still_accepted_and_parsed() -> None:
    referral = ReferralIn.model_validate(synthetic_referral(
        children=[child(date_of_birth="2016-04-02")], staff_linked=False,
        agency_sections={"education": {"made_aware_at": "2026-11-20T08:45:00+01:00",
                                       "attendance_percent": 85}}))
    assert referral.children[0].date_of_birth == date(2016, 4, 2)
    education = referral.agency_sections.education  # type: ignore[union-attr]
    assert education is not None and education.made_aware_at is not None
    assert education.made_aware_at.utcoffset() is not None
    assert education.attendance_percent == 85.0
    assert AttachmentIn(name="a.pdf", media_type="application/pdf", size_bytes=0).size_bytes == 0


class Both(BaseModel):
    on: IsoDate
    at: IsoDateTime


def test_objects_built_in_code_pass_and_the_schema_is_unchanged() -> None:
    now = datetime(2026, 11, 20, 8, 45, tzinfo=UTC)
    assert Both(on=date(2026, 11, 20), at=now).at == now
    properties = Both.model_json_schema()["properties"]
    assert properties["on"] == {"format": "date", "title": "On", "type": "string"}
    assert properties["at"] == {"format": "date-time", "title": "At", "type": "string"}
    with pytest.raises(ValidationError):
        Both.model_validate({"on": "2026-11-20", "at": "2026-11-20T08:45:00"})
