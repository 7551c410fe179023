"""The committed OpenAPI documents are what the apps serve, valid OpenAPI 3.1, and problem+json.

Regenerate them with ``python -m contracttools.openapi --write``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from contracttools import openapi
from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.embedded_bus import EmbeddedBus
from mashcore.problems import PROBLEM_JSON
from mashcore.schemas import default_contracts_dir
from mashcore.service import create_app
from mashcore.settings import SERVICE_PORTS, Settings

SERVICES = sorted(SERVICE_MODULES)
OPENAPI_DIR = default_contracts_dir() / "openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def committed(service: str) -> dict[str, Any]:
    """The committed document of a service."""
    path = OPENAPI_DIR / f"{service}.json"
    assert path.is_file(), f"{path} is missing: run `python -m contracttools.openapi --write`"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


async def served(service: str, tmp_path: Path) -> tuple[dict[str, Any], str]:
    """What the service's app serves at /openapi.json (over ASGI, lifespan not run)."""
    (definition,) = iter_definitions([service])
    app = create_app(definition, Settings(data_dir=tmp_path, jwt_dev_key="openapi-test"),
                     bus=EmbeddedBus(tmp_path / "bus.sqlite"), manage_bus=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document, app.version


def error_responses(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every documented 4xx/5xx/default response, labelled `METHOD path status`."""
    found = []
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            for status, response in operation.get("responses", {}).items():
                if status == "default" or status[0] in "45":
                    found.append((f"{method.upper()} {path} {status}", response))
    return found


@pytest.mark.parametrize("service", SERVICES)
async def test_the_committed_document_is_what_the_app_serves(service: str, tmp_path: Path) -> None:
    document, version = await served(service, tmp_path)
    on_disk = committed(service)
    # The app does not know its port; the exporter adds only the standard local server.
    assert on_disk["servers"][0]["url"] == f"http://127.0.0.1:{SERVICE_PORTS[service]}"
    assert {k: v for k, v in on_disk.items() if k != "servers"} == document, (
        f"contracts/openapi/{service}.json is stale: run `python -m contracttools.openapi --write`"
    )
    assert on_disk["info"]["version"] == version
    # Byte for byte in the exporter's deterministic form.
    text = (OPENAPI_DIR / f"{service}.json").read_text(encoding="utf-8")
    assert text == openapi.render(openapi.normalise(document, service, version))


@pytest.mark.parametrize("service", SERVICES)
def test_the_committed_document_is_valid_openapi_3_1(service: str) -> None:
    document = committed(service)
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


@pytest.mark.parametrize("service", SERVICES)
def test_every_documented_error_response_is_problem_json(service: str) -> None:
    wrong = [
        f"{label}: {sorted(response.get('content', {}))}"
        for label, response in error_responses(committed(service))
        if set(response.get("content", {})) != {PROBLEM_JSON}
        # Readiness probes read a plain status document: {"status": "starting"}.
        and label != "GET /readyz 503"
    ]
    assert wrong == [], f"error responses not documented as {PROBLEM_JSON}: {wrong}"


def test_the_services_with_an_api_document_their_errors() -> None:
    # Guards the check above against passing vacuously.
    assert error_responses(committed("intake"))
    assert error_responses(committed("triage"))


def test_there_is_a_committed_document_for_exactly_the_services() -> None:
    assert sorted(p.stem for p in OPENAPI_DIR.glob("*.json")) == SERVICES


def test_the_drift_check_passes_on_a_faithful_copy_and_fails_on_a_mutated_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(OPENAPI_DIR, contracts / "openapi")
    assert openapi.check(contracts) == []
    assert openapi.main(["--check", "--contracts-dir", str(contracts)]) == 0

    mutated = contracts / "openapi" / "intake.json"
    document = json.loads(mutated.read_text(encoding="utf-8"))
    document["paths"].pop(next(iter(document["paths"])))
    mutated.write_text(openapi.render(document), encoding="utf-8")
    (contracts / "openapi" / "strategy.json").unlink()

    assert openapi.check(contracts) == ["intake", "strategy"]
    capsys.readouterr()
    assert openapi.main(["--check", "--contracts-dir", str(contracts)]) == 1
    err = capsys.readouterr().err
    assert "intake" in err and "strategy" in err and "triage" not in err


def test_a_reformatted_but_equal_document_counts_as_drift(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    shutil.copytree(OPENAPI_DIR, contracts / "openapi")
    path = contracts / "openapi" / "triage.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8"))), encoding="utf-8")
    assert openapi.check(contracts) == ["triage"]


def test_write_all_regenerates_what_check_accepts(tmp_path: Path) -> None:
    written = openapi.write_all(tmp_path)
    assert sorted(p.stem for p in written) == SERVICES
    assert openapi.check(tmp_path) == []
