"""Export each service's OpenAPI 3.1 document from its FastAPI app into ``contracts/openapi/``.

``python -m contracttools.openapi --write`` regenerates ``contracts/openapi/<service>.json``;
``--check`` exits 1, naming each service whose committed file differs from what its app serves.
The apps are only built, never started: no database, bus or port is touched.

The output is deterministic: object keys are sorted (the top level in the usual OpenAPI
order, and a schema's ``properties`` in the model's field order, which is how the docs read),
``info.version`` is the app's version, and ``servers`` names the service's standard local port.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.embedded_bus import EmbeddedBus
from mashcore.schemas import default_contracts_dir
from mashcore.service import create_app
from mashcore.settings import SERVICE_PORTS, Settings

__all__ = [
    "SERVICES",
    "build_app",
    "check",
    "export",
    "main",
    "normalise",
    "openapi_dir",
    "render",
    "server_url",
    "write_all",
]

SERVICES: tuple[str, ...] = tuple(SERVICE_MODULES)
"""Every service, in the order the monorepo lists them."""

# The exported document does not depend on the signing key; a fixed one keeps the export from
# warning about the insecure default. The app is never served, so nothing is ever signed.
_EXPORT_SIGNING_KEY = "openapi-export-only-never-served"

_TOP_LEVEL_ORDER = ("openapi", "info", "jsonSchemaDialect", "servers", "security", "tags",
                    "paths", "webhooks", "components", "externalDocs")


def openapi_dir(contracts_dir: Path | None = None) -> Path:
    """The folder holding the committed OpenAPI documents."""
    return (contracts_dir or default_contracts_dir()) / "openapi"


def server_url(service: str) -> str:
    """The service's URL on its standard local port."""
    return f"http://127.0.0.1:{SERVICE_PORTS[service]}"


def build_app(service: str, data_dir: Path) -> FastAPI:
    """The service's app, built but not started (its lifespan never runs)."""
    (definition,) = iter_definitions([service])
    # Explicit values override any MASH_* environment, so the export is the same everywhere.
    settings = Settings(
        data_dir=data_dir,
        database_url=None,
        database_url_template=None,
        jwks_url=None,
        jwt_dev_key=_EXPORT_SIGNING_KEY,
        topic_namespace="",
    )
    return create_app(definition, settings, bus=EmbeddedBus(data_dir / "bus.sqlite"),
                      manage_bus=False)


def _ordered(value: Any, *, keep_order: bool = False) -> Any:
    """Sort mapping keys recursively; a schema's ``properties`` keep their declared order."""
    if isinstance(value, Mapping):
        keys = list(value) if keep_order else sorted(value)
        return {key: _ordered(value[key], keep_order=key == "properties" and not keep_order)
                for key in keys}
    if isinstance(value, list):
        return [_ordered(item) for item in value]
    return value


def normalise(document: Mapping[str, Any], service: str, version: str) -> dict[str, Any]:
    """The app's document in its committed form: version, local server, stable key order."""
    doc: dict[str, Any] = copy.deepcopy(dict(document))
    doc["info"] = {**doc.get("info", {}), "version": version}
    doc["servers"] = [{"url": server_url(service),
                       "description": f"{service} on its standard local port"}]
    ordered: dict[str, Any] = _ordered(doc)
    head = [key for key in _TOP_LEVEL_ORDER if key in ordered]
    return {key: ordered[key] for key in [*head, *(k for k in ordered if k not in head)]}


def export(service: str) -> dict[str, Any]:
    """The service's OpenAPI document as its app serves it, in committed form."""
    with tempfile.TemporaryDirectory(prefix="mash-openapi-") as tmp:
        app = build_app(service, Path(tmp))
        return normalise(app.openapi(), service, app.version)


def render(document: Mapping[str, Any]) -> str:
    """The committed text of a document: two-space indent and a trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_all(contracts_dir: Path | None = None) -> list[Path]:
    """Write every service's document to ``contracts/openapi/<service>.json``."""
    folder = openapi_dir(contracts_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for service in SERVICES:
        path = folder / f"{service}.json"
        path.write_text(render(export(service)), encoding="utf-8")
        written.append(path)
    return written


def check(contracts_dir: Path | None = None) -> list[str]:
    """The services whose committed document is missing or differs from what the app serves."""
    folder = openapi_dir(contracts_dir)
    drifted = []
    for service in SERVICES:
        path = folder / f"{service}.json"
        committed = path.read_text(encoding="utf-8") if path.is_file() else None
        if committed != render(export(service)):
            drifted.append(service)
    return drifted


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``--write`` regenerates the documents, ``--check`` fails on drift."""
    parser = argparse.ArgumentParser(prog="python -m contracttools.openapi",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate contracts/openapi/")
    mode.add_argument("--check", action="store_true",
                      help="exit 1 if a committed document differs from what its app serves")
    parser.add_argument("--contracts-dir", type=Path, default=None,
                        help="the contracts folder (default: the repository's)")
    args = parser.parse_args(argv)
    if args.write:
        for path in write_all(args.contracts_dir):
            print(f"wrote {path}")
        return 0
    drifted = check(args.contracts_dir)
    if drifted:
        print("OpenAPI documents out of date (run `python -m contracttools.openapi --write`):",
              file=sys.stderr)
        for service in drifted:
            print(f"  {service}: {openapi_dir(args.contracts_dir) / (service + '.json')}",
                  file=sys.stderr)
        return 1
    print(f"OpenAPI documents up to date: {', '.join(SERVICES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
