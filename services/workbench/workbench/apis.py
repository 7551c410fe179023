"""The services' public APIs, called with the signed-in user's own bearer token.

The workbench keeps no data: every page is read from the API that owns it, so a user sees
exactly what the APIs let them see. A service that cannot be reached (or answers 503) is an
`ApiUnavailable`, which the pages turn into the GOV.UK "service unavailable" page (503).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

SERVICES = ("intake", "triage", "mash-enquiries", "strategy")


class ApiUnavailable(Exception):
    """A service's API is down, overloaded or unreachable; ``retry_after`` in seconds."""

    def __init__(self, service: str, retry_after: int = 30) -> None:
        super().__init__(service)
        self.service = service
        self.retry_after = retry_after


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def problem(self) -> Mapping[str, Any]:
        return self.body if isinstance(self.body, Mapping) else {}


class Apis:
    """One HTTP client per service (base URL set), shared by all requests."""

    def __init__(self, clients: Mapping[str, httpx.AsyncClient]) -> None:
        self.clients = dict(clients)

    @classmethod
    def from_urls(cls, urls: Mapping[str, str], timeout: float = 10.0) -> Apis:
        return cls({name: httpx.AsyncClient(base_url=url, timeout=timeout)
                    for name, url in urls.items()})

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    async def call(self, service: str, method: str, path: str, token: str,
                   json: Any = None, params: Mapping[str, Any] | None = None) -> ApiAnswer:
        """Call ``service`` as the user; 5xx and connection failures raise ApiUnavailable."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            response = await self.clients[service].request(method, path, headers=headers,
                                                            json=json, params=params)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(service) from exc
        if response.status_code >= 500:
            retry = response.headers.get("Retry-After", "30")
            raise ApiUnavailable(service, int(retry) if retry.isdigit() else 30)
        try:
            body = response.json()
        except ValueError:
            body = None
        return ApiAnswer(response.status_code, body)

    async def get(self, service: str, path: str, token: str,
                  params: Mapping[str, Any] | None = None) -> ApiAnswer:
        return await self.call(service, "GET", path, token, params=params)

    async def post(self, service: str, path: str, token: str, json: Any) -> ApiAnswer:
        return await self.call(service, "POST", path, token, json=json)
