"""Only ``application/json`` (UTF-8) is read as a request body; anything else is a 415.

Issue 12 review: ``application/merge-patch+json`` (a patch document, which no operation takes)
and ``application/json; charset=latin-1`` went on to the routes: the first was read as a
whole new referral, the second answered 400 "not well-formed JSON" for an accented name, or
was silently read as UTF-8. Both are now 415 naming application/json, before the body is read.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from tests.unit.test_http_guards import app, call

__all__ = ["app"]  # the fixture, shared with test_http_guards


@pytest.mark.parametrize("content_type", [
    "application/merge-patch+json", "application/problem+json", "application/vnd.api+json",
    "application/json; charset=latin-1", "application/json; charset=ISO-8859-1",
    "application/json;charset=utf-16", "application/jsonx",
])
async def test_another_json_type_or_charset_is_415_naming_application_json(
    app: FastAPI, content_type: str,
) -> None:
    body = '{"first_name": "Zoé"}'.encode("latin-1")
    answer = await call(app, "POST", "/v1/contacts", [body],
                        {"content-type": content_type, "content-length": str(len(body))})
    assert answer.status == 415
    assert "application/json" in answer.problem()["detail"]
    assert answer.chunks_read == 0


@pytest.mark.parametrize("content_type", [
    "application/json", "Application/JSON", "application/json; charset=utf-8",
    'application/json;charset="UTF-8"', "application/json; charset=utf8",
])
async def test_application_json_in_utf8_goes_on_to_the_route(
    app: FastAPI, content_type: str,
) -> None:
    answer = await call(app, "POST", "/v1/contacts", [b"{}"],
                        {"content-type": content_type, "content-length": "2"})
    assert answer.status == 401  # the route's own answer: no token
