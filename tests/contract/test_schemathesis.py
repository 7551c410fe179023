"""Schemathesis against each running service: the API does what its OpenAPI document says.

Each service runs as its own process (``mash serve``) on a free loopback port, on the real
PostgreSQL server. Schemathesis reads the service's ``/openapi.json`` and sends generated
requests, valid and schema-invalid, to every operation, with the token of a role that may call
it (read from the route's ``require_roles``), and checks:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: every status answered is documented for that operation;
- ``response_schema_conformance``: every answer matches its documented schema;
- ``negative_data_rejection``: a request the schema forbids is refused (4xx), never accepted.

Bounded and deterministic: a few examples per operation (``MASH_SCHEMATHESIS_EXAMPLES``,
default 8), derandomized, so a run is repeatable and short.
"""

from __future__ import annotations

import inspect
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from devinfra.postgres import free_port
from devinfra.processes import ServiceProcess
from mash_app.services import iter_definitions
from mashcore.auth import DEFAULT_DEV_KEY, Role
from mashcore.embedded_bus import EmbeddedBus
from mashcore.service import create_app
from mashcore.settings import Settings
from tests.support import token

EXAMPLES = int(os.environ.get("MASH_SCHEMATHESIS_EXAMPLES", "8"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance,
          negative_data_rejection]
AGENCY = "local_authority"  # a partner system of this agency may also send transfers in
BOUNDED = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck), phases=[Phase.generate],
                   report_multiple_bugs=False)
SERVICES = ["intake", "triage", "mash-enquiries", "sla-timekeeper", "strategy", "notifications"]
# The dashboard's live stream never ends by design; its token checks are in the integration
# tier (test_sla_timekeeper.py).
ENDLESS = {("GET", "/v1/dashboard/stream")}


def roles_by_operation(service: str, tmp_path: Path) -> dict[tuple[str, str], Role]:
    """For each (METHOD, path), the first role its ``require_roles`` allows."""
    from fastapi.routing import iter_route_contexts

    (definition,) = iter_definitions([service])
    app = create_app(definition, Settings(data_dir=tmp_path, jwt_dev_key=DEFAULT_DEV_KEY),
                     bus=EmbeddedBus(tmp_path / "roles-bus.sqlite"), manage_bus=False)
    roles: dict[tuple[str, str], Role] = {}

    def first_role(dependant: Any) -> Role | None:
        for dependency in dependant.dependencies:
            call = dependency.call
            if getattr(call, "__qualname__", "").startswith("require_roles."):
                closure = inspect.getclosurevars(call).nonlocals
                names = str(closure["names"]).split(", ")
                return Role(names[0])
            found = first_role(dependency)
            if found is not None:
                return found
        return None

    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:
            continue
        role = first_role(dependant)
        for method in route.methods or ():
            roles[(method, route.path_format)] = role or Role.TEAM_MANAGER
    return roles


@pytest.fixture
def running(postgres_server: Any, tmp_path: Path) -> Any:
    """Start a service in its own process on PostgreSQL; stopped after the test."""
    started: list[ServiceProcess] = []

    def start(service: str) -> ServiceProcess:
        database = f"st_{service.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
        postgres_server.create_database(database)
        env = {
            "MASH_BUS": "embedded",
            "MASH_DATA_DIR": str(tmp_path / "data"),
            "MASH_DATABASE_URL": postgres_server.url(database),
            "MASH_JWT_DEV_KEY": DEFAULT_DEV_KEY,
            "MASH_RATE_LIMIT_BURST": "1000000",  # many requests from one client are the point
            "MASH_LOG_LEVEL": "WARNING",
        }
        process = ServiceProcess(service, free_port(), env, tmp_path / f"{service}.log")
        started.append(process)
        return process.start().wait_ready()

    yield start
    for process in started:
        process.stop()


def authorised(roles: dict[tuple[str, str], Role], method: str, path: str) -> dict[str, str]:
    """A bearer token of a role that may call the operation."""
    role = roles.get((method, path), Role.TEAM_MANAGER)
    return {"Authorization": f"Bearer {token(role, AGENCY, subject=f'st-{role.value}')}"}


def failures_of(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> str | None:
    """Run the bounded examples of one operation in one mode; the first failure, if any."""

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # Nothing the schema forbids (no body; no parameter, or only free-form strings):
        # there is no invalid request to send. A valid one always exists.
        if mode is GenerationMode.POSITIVE or operation.body:
            raise
    except Exception as failure:
        return f"{operation.method.upper()} {operation.path} ({mode.value}): {failure}"
    return None


@pytest.mark.parametrize("service", SERVICES)
def test_the_running_service_does_what_its_openapi_says(
    service: str, running: Any, tmp_path: Path,
) -> None:
    process = running(service)
    schema = schemathesis.openapi.from_url(f"{process.url}/openapi.json")
    # The token is ours to send (of a role that may call the operation), not generated.
    schema.config.generation.update(with_security_parameters=False)
    roles = roles_by_operation(service, tmp_path)
    failures: list[str] = []
    tested = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        if (method, operation.path) in ENDLESS:
            continue
        headers = authorised(roles, method, operation.path)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            tested += 1
            failure = failures_of(operation, mode, headers)
            if failure:
                failures.append(failure)
    assert tested >= 6  # healthz, metrics and readyz in both modes at least
    assert failures == [], "\n\n".join(failures)


@pytest.mark.parametrize("service", ["intake", "triage"])
def test_an_unsupported_method_is_405_allowing_every_documented_method(
    service: str, running: Any,
) -> None:
    process = running(service)
    document = httpx.get(f"{process.url}/openapi.json").json()
    wrong = []
    for path, item in document["paths"].items():
        documented = {m.upper() for m in item if m in {"get", "post", "put", "patch", "delete"}}
        concrete = path.replace("{", "x").replace("}", "")  # any value fits the path
        answer = httpx.request("OPTIONS", f"{process.url}{concrete}")
        allowed = {m.strip() for m in answer.headers.get("allow", "").split(",") if m.strip()}
        if answer.status_code != 405 or not documented <= allowed:
            wrong.append(f"{path}: {answer.status_code} Allow {sorted(allowed)}, "
                         f"documented {sorted(documented)}")
    assert wrong == []
