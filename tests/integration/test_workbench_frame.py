"""The workbench's frame over HTTP: outage page, CSRF, the session cookie's attributes.

The workbench has no database; these run its real app against real sockets (an API port
nobody listens on is a real outage).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from mashcore.settings import Settings
from tests.support import token
from workbench.apis import Apis
from workbench.app import WorkbenchSettings, create_workbench

NAVIGATOR = token("navigator", "police", subject="nav-1", partnership="coventry")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    down = f"http://127.0.0.1:{closed_port()}"
    apis = Apis.from_urls({"intake": down, "triage": down, "mash-enquiries": down}, timeout=2)
    app = create_workbench(Settings(), WorkbenchSettings(session_secret="test-secret"),
                           apis=apis)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="https://hub.example") as http:
        yield http
    await apis.aclose()


async def sign_in(http: httpx.AsyncClient) -> httpx.Response:
    page = await http.get("/sign-in")
    csrf = page.cookies["wb_csrf"]
    return await http.post("/sign-in", data={"csrf_token": csrf, "token": NAVIGATOR})


async def test_the_session_cookie_is_signed_httponly_strict_and_secure(
        client: httpx.AsyncClient) -> None:
    response = await sign_in(client)
    assert response.status_code == 303
    cookie = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("wb_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    assert NAVIGATOR not in cookie
    # A cookie signed with another secret is no session.
    client.cookies.set("wb_session", cookie.split(";")[0].split("=", 1)[1][:-3] + "AAA")
    assert (await client.get("/navigator")).headers["location"] == "/sign-in"


async def test_a_form_without_its_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/sign-in")
    response = await client.post("/sign-in", data={"token": NAVIGATOR})
    assert response.status_code == 403
    assert "wb_session" not in response.cookies
    response = await client.post("/sign-in", data={"token": NAVIGATOR, "csrf_token": "forged"})
    assert response.status_code == 403


async def test_an_api_outage_is_a_gov_uk_503_page_with_retry_after(
        client: httpx.AsyncClient) -> None:
    await sign_in(client)
    response = await client.get("/navigator")
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert "Sorry, the service is unavailable" in response.text
    assert "Traceback" not in response.text and "httpx" not in response.text
    assert "govuk-frontend.min.css" in response.text


async def test_a_page_for_another_role_is_refused_with_403(client: httpx.AsyncClient) -> None:
    await sign_in(client)  # a navigator
    for path in ("/officer", "/manager", "/cases/MASH-2026-AAAAAAAA", "/episodes/x"):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "not for your role" in response.text


async def test_sign_out_clears_the_session_but_the_signed_out_page_alone_does_not(
        client: httpx.AsyncClient) -> None:
    await sign_in(client)
    page = await client.get("/signed-out")  # e.g. a link from another site
    assert page.status_code == 200 and "You have signed out" in page.text
    assert (await client.get("/navigator")).status_code == 503  # still signed in (API down)
    out = await client.post("/sign-out", data={"csrf_token": client.cookies["wb_csrf"]})
    assert out.status_code == 303 and out.headers["location"] == "/signed-out"
    assert (await client.get("/navigator")).headers["location"] == "/sign-in"
