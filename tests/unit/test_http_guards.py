"""Every request body is bounded and JSON, refused early as problem+json; Allow tells the truth.

The real intake app (built by ``create_app``, not started: these answers come before any
database work) is called over raw ASGI, so the tests see exactly how much of a body was read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from mash_app.services import iter_definitions
from mashcore.embedded_bus import EmbeddedBus
from mashcore.problems import PROBLEM_JSON
from mashcore.service import create_app
from mashcore.settings import Settings

LIMIT = 50_000


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    (definition,) = iter_definitions(["intake"])
    settings = Settings(data_dir=tmp_path, jwt_dev_key="guards-test", max_body_bytes=LIMIT)
    return create_app(definition, settings, bus=EmbeddedBus(tmp_path / "bus.sqlite"),
                      manage_bus=False)


class Answer:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""
        self.chunks_read = 0

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == PROBLEM_JSON
        document: dict[str, Any] = json.loads(self.body)
        assert document["status"] == self.status
        return document


async def call(app: FastAPI, method: str, path: str, chunks: Iterator[bytes] | list[bytes],
               headers: dict[str, str]) -> Answer:
    """One request over ASGI; the body arrives in ``chunks``, counted as the app reads them."""
    answer = Answer()
    source = iter(chunks)
    pending = next(source, None)

    async def receive() -> dict[str, Any]:
        nonlocal pending
        if pending is None:
            return {"type": "http.disconnect"}
        chunk, pending = pending, next(source, None)
        answer.chunks_read += 1
        return {"type": "http.request", "body": chunk, "more_body": pending is not None}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("testserver", 80), "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    return answer


async def test_a_declared_length_over_the_limit_is_refused_before_any_of_it_is_read(
    app: FastAPI,
) -> None:
    ten_mb = 10 * 1024 * 1024
    chunks = (b"x" * 65536 for _ in range(ten_mb // 65536))
    answer = await call(app, "POST", "/v1/contacts", chunks,
                        {"content-type": "application/json", "content-length": str(ten_mb)})
    assert answer.status == 413
    assert str(LIMIT) in answer.problem()["detail"]
    assert answer.chunks_read == 0


async def test_a_chunked_body_is_stopped_at_the_limit_and_the_rest_never_read(
    app: FastAPI,
) -> None:
    chunks = (b" " * 100 for _ in range(10_000))  # 1 MB of whitespace, 100 bytes at a time
    answer = await call(app, "POST", "/v1/contacts", chunks,
                        {"content-type": "application/json", "transfer-encoding": "chunked"})
    assert answer.status == 413
    assert answer.problem()["title"] == "Content Too Large"
    assert answer.chunks_read == LIMIT // 100 + 1


async def test_a_body_within_the_limit_goes_on_to_the_route(app: FastAPI) -> None:
    answer = await call(app, "POST", "/v1/contacts", [b"{}"],
                        {"content-type": "application/json", "content-length": "2"})
    assert answer.status == 401  # the route's own answer: no token


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml",
                                          "application/x-www-form-urlencoded", None])
async def test_a_body_that_is_not_json_is_415_naming_application_json(
    app: FastAPI, content_type: str | None,
) -> None:
    headers = {"content-length": "2"}
    if content_type:
        headers["content-type"] = content_type
    answer = await call(app, "POST", "/v1/contacts", [b"{}"], headers)
    assert answer.status == 415
    assert "application/json" in answer.problem()["detail"]
    assert answer.chunks_read == 0


@pytest.mark.parametrize("body", [b'{"referrer": ', b"\xff\xfe{}", b"[" * 10_000 + b"]" * 10_000],
                         ids=["truncated", "not-utf8", "10000-deep"])
async def test_malformed_or_too_deep_json_is_a_400_problem(app: FastAPI, body: bytes) -> None:
    answer = await call(app, "POST", "/v1/contacts", [body],
                        {"content-type": "application/json", "content-length": str(len(body))})
    assert answer.status == 400
    assert "not well-formed JSON" in answer.problem()["detail"]


@pytest.mark.parametrize("path", ["/v1/contacts", "/v1/contacts/c-1"])
async def test_an_unsupported_method_is_405_with_every_allowed_method(
    app: FastAPI, path: str,
) -> None:
    answer = await call(app, "OPTIONS", path, [], {})
    assert answer.status == 405
    allowed = {m.strip() for m in answer.headers["allow"].split(",")}
    assert allowed == ({"GET", "POST"} if path == "/v1/contacts" else {"GET"})
    answer.problem()
