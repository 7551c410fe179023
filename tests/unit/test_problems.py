from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query
from pydantic import BaseModel, Field

from mashcore.problems import (
    PROBLEM_JSON,
    ProblemHTTPException,
    field_path,
    install_problem_handlers,
    problem_response,
)

pytestmark = pytest.mark.unit


class Address(BaseModel):
    line_1: str = Field(min_length=1)
    postcode: str = Field(min_length=5)


class Child(BaseModel):
    name: str = Field(min_length=1)
    date_of_birth: date
    addresses: list[Address] = []


class Referral(BaseModel):
    agency: str
    children: list[Child] = Field(min_length=1)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/referrals")
    def create(referral: Referral) -> dict[str, int]:
        return {"children": len(referral.children)}

    @app.get("/contacts")
    def contacts(limit: int = Query(default=10, le=100)) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/missing")
    def missing() -> None:
        raise HTTPException(404, "No such contact.")

    @app.get("/conflict")
    def conflict() -> None:
        raise ProblemHTTPException(
            409,
            "Already decided",
            "The contact already has a decision.",
            headers={"X-Decision": "d-1"},
            problem_type="https://mash.example/problems/already-decided",
            extra={"decision_id": "d-1"},
        )

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("database password is hunter2; child is Jane Doe")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://mash.test") as client:
        yield client


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


VALID_CHILD = {"name": "Alex Example", "date_of_birth": "2015-04-01"}


async def test_invalid_nested_fields_give_a_422_problem_listing_each_field_path(
    client: httpx.AsyncClient,
) -> None:
    referral = {
        "agency": "police",
        "children": [
            {"name": "Jane Doe", "date_of_birth": "not-a-date"},
            {"name": "", "date_of_birth": "2016-02-30"},
            {**VALID_CHILD, "addresses": [{"line_1": "1 High St", "postcode": "CV1"}]},
        ],
    }

    body = problem(await client.post("/referrals", json=referral), 422)

    fields = [error["field"] for error in body["errors"]]
    assert fields == [
        "children[0].date_of_birth",
        "children[1].name",
        "children[1].date_of_birth",
        "children[2].addresses[0].postcode",
    ]
    for field in fields:
        assert field in body["detail"]
    assert all(error["message"] for error in body["errors"])
    assert body["type"] == "about:blank"


async def test_a_validation_problem_never_echoes_the_submitted_values(
    client: httpx.AsyncClient,
) -> None:
    referral = {"agency": "police", "children": [{"name": "Jane Doe", "date_of_birth": "31/02"}]}

    response = await client.post("/referrals", json=referral)

    assert response.status_code == 422
    assert "Jane Doe" not in response.text
    assert "31/02" not in response.text


async def test_a_missing_required_field_is_named_by_its_path(client: httpx.AsyncClient) -> None:
    body = problem(await client.post("/referrals", json={"children": [VALID_CHILD]}), 422)

    assert body["errors"] == [{"field": "agency", "message": "Field required", "code": "missing"}]


async def test_a_missing_body_is_reported_as_the_body(client: httpx.AsyncClient) -> None:
    body = problem(await client.post("/referrals"), 422)

    assert [error["field"] for error in body["errors"]] == ["body"]


async def test_a_faulty_query_parameter_keeps_its_source_in_the_path(
    client: httpx.AsyncClient,
) -> None:
    body = problem(await client.get("/contacts", params={"limit": 500}), 422)

    assert [error["field"] for error in body["errors"]] == ["query.limit"]


async def test_a_valid_request_is_unaffected(client: httpx.AsyncClient) -> None:
    response = await client.post("/referrals", json={"agency": "police", "children": [VALID_CHILD]})

    assert response.status_code == 200
    assert response.json() == {"children": 1}


async def test_an_http_exception_becomes_a_problem(client: httpx.AsyncClient) -> None:
    body = problem(await client.get("/missing"), 404)

    assert body["title"] == "Not Found"
    assert body["detail"] == "No such contact."


async def test_an_unknown_route_becomes_a_problem(client: httpx.AsyncClient) -> None:
    problem(await client.get("/nowhere"), 404)


async def test_a_problem_exception_keeps_its_type_headers_and_extra_members(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/conflict")

    body = problem(response, 409)
    assert body == {
        "type": "https://mash.example/problems/already-decided",
        "title": "Already decided",
        "status": 409,
        "detail": "The contact already has a decision.",
        "decision_id": "d-1",
    }
    assert response.headers["x-decision"] == "d-1"


async def test_an_unhandled_error_is_a_500_problem_without_internals(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/boom")

    body = problem(response, 500)
    assert body["title"] == "Internal Server Error"
    for leak in ("hunter2", "Jane Doe", "RuntimeError", "Traceback"):
        assert leak not in response.text


def test_a_problem_response_has_the_problem_media_type_and_extra_members() -> None:
    response = problem_response(429, "Too Many Requests", "Slow down.", retry_after=30)

    assert response.media_type == PROBLEM_JSON
    assert response.status_code == 429
    assert response.body == (
        b'{"type":"about:blank","title":"Too Many Requests","status":429,'
        b'"detail":"Slow down.","retry_after":30}'
    )


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("body", "children", 0, "date_of_birth"), "children[0].date_of_birth"),
        (("body", "children", 2, "addresses", 0, "postcode"), "children[2].addresses[0].postcode"),
        (("body", 3), "[3]"),
        (("body",), "body"),
        (("query", "limit"), "query.limit"),
        (("header", "idempotency-key"), "header.idempotency-key"),
        (("agency",), "agency"),
    ],
)
def test_an_error_location_becomes_a_dotted_and_indexed_field_path(
    loc: tuple[int | str, ...], expected: str
) -> None:
    assert field_path(loc) == expected
