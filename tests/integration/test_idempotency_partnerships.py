"""An Idempotency-Key belongs to one partner system of one partnership (issue 12 review).

Idempotency records were keyed by ``agency:subject`` only. Two partnerships' systems whose
identity providers issue the same subject (``school-mis`` of agency ``education``) and that
send the same key with the same synthetic referral (a retry loop, a test harness, a key
derived from the form) shared one record: the second partnership's referral was never
recorded, and its answer was the first partnership's contact id and case reference. On the
real PostgreSQL server the second is now a contact of its own, in its own partnership.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import SAMPLE_TIME, auth, services_on_postgres, synthetic_referral


@pytest.fixture
async def system(postgres_server: Any, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    async with services_on_postgres(postgres_server, tmp_path, ["intake"],
                                    SAMPLE_TIME) as services:
        yield services


def school(partnership: str) -> dict[str, str]:
    return {**auth("referrer", "education", subject="school-mis", partnership=partnership),
            "Idempotency-Key": "referral-1"}


async def test_the_same_key_from_another_partnership_is_a_new_contact_of_its_own(
    system: dict[str, Any],
) -> None:
    intake = system["intake"]
    referral = synthetic_referral(1301)
    coventry = await intake.post("/v1/contacts", json=referral, headers=school("coventry"))
    assert coventry.status_code == 202, coventry.text
    warwick = await intake.post("/v1/contacts", json=referral, headers=school("warwick"))
    assert warwick.status_code == 202, warwick.text
    assert "idempotent-replayed" not in warwick.headers
    assert warwick.json()["contact_id"] != coventry.json()["contact_id"]
    assert warwick.json()["case_reference"] != coventry.json()["case_reference"]

    read = await intake.get(f"/v1/contacts/{warwick.json()['contact_id']}",
                            headers=school("warwick"))
    assert read.status_code == 200, read.text
    again = await intake.post("/v1/contacts", json=referral, headers=school("warwick"))
    assert again.headers["idempotent-replayed"] == "true"  # still one per partnership
    assert again.json()["contact_id"] == warwick.json()["contact_id"]
