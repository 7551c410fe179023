"""The committed OpenAPI documents name every status the shared runtime can answer.

Issue 12: schemathesis found 58 undocumented status codes (413, 415, 400 for malformed JSON,
503 ...). These are added centrally (``mashcore.openapi_responses``); this checks the result.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from mash_app.services import SERVICE_MODULES
from mashcore.problems import PROBLEM_JSON
from mashcore.schemas import default_contracts_dir

OPENAPI_DIR = default_contracts_dir() / "openapi"
METHODS = {"get", "put", "post", "delete", "patch"}


def operations(service: str) -> list[tuple[str, str, dict[str, Any]]]:
    document = json.loads((OPENAPI_DIR / f"{service}.json").read_text(encoding="utf-8"))
    return [(method.upper(), path, operation)
            for path, item in document["paths"].items()
            for method, operation in item.items() if method in METHODS]


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_every_operation_documents_the_shared_answers(service: str) -> None:
    missing = []
    for method, path, operation in operations(service):
        statuses = set(operation["responses"])
        expected = set()
        if "requestBody" in operation:
            expected |= {"400", "413", "415", "422"}
        if method in {"POST", "PUT", "PATCH"}:
            expected |= {"413", "415"}
        if "{" in path:
            expected |= {"404", "422"}
        if operation.get("parameters"):
            expected.add("422")
        if path != "/healthz":
            expected.add("503")
        if any("bearerAuth" in requirement for requirement in operation.get("security", [])):
            expected |= {"401", "403"}
        if not expected <= statuses:
            missing.append(f"{method} {path}: {sorted(expected - statuses)}")
    assert missing == []


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
def test_retry_after_is_documented_with_every_429_and_503(service: str) -> None:
    without = [f"{method} {path} {status}"
               for method, path, operation in operations(service)
               for status, response in operation["responses"].items()
               if status in {"429", "503"} and PROBLEM_JSON in response.get("content", {})
               and "Retry-After" not in response.get("headers", {})]
    assert without == []


def test_the_referral_endpoint_documents_exactly_what_it_can_answer() -> None:
    [submit] = [op for method, path, op in operations("intake")
                if (method, path) == ("POST", "/v1/contacts")]
    assert sorted(submit["responses"]) == ["202", "400", "401", "403", "404", "413", "415", "422",
                                           "429", "503"]
    [health] = [op for method, path, op in operations("intake")
                if (method, path) == ("GET", "/healthz")]
    assert sorted(health["responses"]) == ["200"]
