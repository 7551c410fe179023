"""Every event schema is valid draft 2020-12, documented, and its examples satisfy it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from mashcore.schemas import SchemaRegistry, default_contracts_dir

SCHEMAS = sorted((default_contracts_dir() / "events").glob("*.schema.json"))
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", SCHEMAS, ids=lambda p: p.name)
def test_each_schema_is_valid_and_its_examples_conform(path: Path) -> None:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "DOMAIN.md" in schema["description"]
    assert schema["examples"], "every schema has at least one example"
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for example in schema["examples"]:
        assert list(validator.iter_errors(example)) == []


def test_the_event_type_is_the_file_name_and_ends_in_a_version() -> None:
    for path in SCHEMAS:
        event_type = path.name.removesuffix(".schema.json")
        assert event_type.startswith("mash.")
        assert event_type.rsplit(".", 1)[-1].startswith("v")
        assert json.loads(path.read_text())["$id"].endswith(path.name)


def declared_event_types() -> set[str]:
    """Every `*_ = "mash.<...>.v<N>"` constant in the services' code."""
    found = set()
    for source in (REPO / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                value = node.value
                if value.startswith("mash.") and value.split(".")[-1][:1] == "v" and \
                        value.split(".")[-1][1:].isdigit() and value.count(".") >= 4:
                    found.add(value)
    return found


def test_every_event_type_the_services_name_has_a_schema() -> None:
    types = declared_event_types()
    assert types, "the services declare event types"
    assert types <= SchemaRegistry().event_types
