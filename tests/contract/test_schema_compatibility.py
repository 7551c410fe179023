"""The compatibility gate: released event schemas only change in backward-compatible ways.

``contracts/baseline/`` holds each schema as released (``python -m contracttools.compat
--release``); an incompatible change needs a new version file beside the old one.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contracttools import compat
from mashcore.schemas import default_contracts_dir

CONTRACTS = default_contracts_dir()
EVENTS_DIR = compat.events_dir(CONTRACTS)
BASELINE_DIR = compat.baseline_dir(CONTRACTS)
REPO = Path(__file__).resolve().parents[2]


def schemas(folder: Path) -> dict[str, Path]:
    """Event type -> schema file in a folder."""
    return {p.name.removesuffix(compat.SCHEMA_SUFFIX): p
            for p in sorted(folder.glob(f"*{compat.SCHEMA_SUFFIX}"))}


def load(path: Path) -> dict[str, Any]:
    """A schema file as a dict."""
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


# -- the gate over the repository ------------------------------------------------------------


def test_the_gate_passes_on_the_repository(capsys: pytest.CaptureFixture[str]) -> None:
    assert compat.check() == []
    assert compat.main(["--check"]) == 0
    assert "no breaking change" in capsys.readouterr().out


def test_every_released_event_type_still_has_its_schema() -> None:
    current = schemas(EVENTS_DIR)
    missing = [t for t in schemas(BASELINE_DIR) if t not in current]
    assert missing == [], f"released schemas removed (keep the old version's file): {missing}"


def test_every_current_schema_is_backward_compatible_with_its_released_copy() -> None:
    current = schemas(EVENTS_DIR)
    broken = {
        event_type: changes
        for event_type, released in schemas(BASELINE_DIR).items()
        if event_type in current
        and (changes := compat.breaking_changes(load(released), load(current[event_type])))
    }
    assert broken == {}, "add a new version instead of changing a released schema"


def test_every_current_schema_is_compatible_with_itself() -> None:
    # Runs the comparison over every real schema even before anything is released.
    current = schemas(EVENTS_DIR)
    assert current
    for event_type, path in current.items():
        assert compat.breaking_changes(load(path), load(path)) == [], event_type


def test_the_baseline_holds_only_released_copies_and_says_how() -> None:
    assert (BASELINE_DIR / "README.md").is_file()
    for path in BASELINE_DIR.iterdir():
        assert path.name == "README.md" or path.name.endswith(compat.SCHEMA_SUFFIX), path
    for event_type, path in schemas(BASELINE_DIR).items():
        assert load(path)["$id"].endswith(f"{event_type}{compat.SCHEMA_SUFFIX}")


def test_the_cli_runs_the_gate() -> None:
    result = subprocess.run([sys.executable, "-m", "contracttools.compat", "--check"],
                            capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr


# -- a deliberately breaking change to a real committed schema, in tmp_path -------------------


def real_schema_with_an_enum() -> tuple[str, dict[str, Any], str]:
    """A committed schema and a top-level property of it with an enum of two or more values."""
    for event_type, path in schemas(EVENTS_DIR).items():
        schema = load(path)
        for name, prop in schema.get("properties", {}).items():
            if isinstance(prop, dict) and len(prop.get("enum", [])) >= 2:
                return event_type, schema, name
    raise AssertionError("no committed event schema has a top-level enum property")


def remove_a_field(schema: dict[str, Any], enum_property: str) -> str:
    name = next(n for n in reversed(schema["properties"]) if n != enum_property)
    del schema["properties"][name]
    schema["required"] = [r for r in schema.get("required", []) if r != name]
    return f"$.{name}: property removed"


def add_a_required_field(schema: dict[str, Any], _enum_property: str) -> str:
    schema["properties"]["added_by_the_test"] = {"type": "string"}
    schema.setdefault("required", []).append("added_by_the_test")
    return "$.added_by_the_test: new required property"


def narrow_an_enum(schema: dict[str, Any], enum_property: str) -> str:
    dropped = schema["properties"][enum_property]["enum"].pop()
    return f"$.{enum_property}: enum value removed ({json.dumps(dropped)})"


BREAKING: dict[str, Callable[[dict[str, Any], str], str]] = {
    "remove a field": remove_a_field,
    "add a required field": add_a_required_field,
    "narrow an enum": narrow_an_enum,
}


def next_version(event_type: str) -> str:
    """``mash.x.y.v1`` -> ``mash.x.y.v2``."""
    stem, version = event_type.rsplit(".", 1)
    return f"{stem}.v{int(version.removeprefix('v')) + 1}"


def write(folder: Path, event_type: str, schema: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{event_type}{compat.SCHEMA_SUFFIX}"
    path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def released(tmp_path: Path) -> tuple[Path, str, dict[str, Any], str]:
    """A contracts folder in tmp_path where one real schema is committed and released."""
    event_type, schema, enum_property = real_schema_with_an_enum()
    contracts = tmp_path / "contracts"
    shutil.copyfile(EVENTS_DIR / f"{event_type}{compat.SCHEMA_SUFFIX}",
                    write(contracts / "events", event_type, schema))
    assert compat.release(contracts) == []
    assert (contracts / "baseline" / f"{event_type}{compat.SCHEMA_SUFFIX}").is_file()
    return contracts, event_type, schema, enum_property


@pytest.mark.parametrize("change", BREAKING)
def test_the_gate_reports_a_breaking_change_to_a_released_schema(
    change: str, released: tuple[Path, str, dict[str, Any], str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    contracts, event_type, schema, enum_property = released
    baseline = contracts / "baseline" / f"{event_type}{compat.SCHEMA_SUFFIX}"
    before = baseline.read_bytes()
    changed = copy.deepcopy(schema)
    expected = BREAKING[change](changed, enum_property)
    write(contracts / "events", event_type, changed)

    assert f"{event_type}: {expected}" in compat.check(contracts)
    assert compat.main(["--check", "--contracts-dir", str(contracts)]) == 1
    assert expected in capsys.readouterr().err
    # --release refuses and leaves the released copy alone.
    assert compat.main(["--release", "--contracts-dir", str(contracts)]) == 1
    assert "Nothing was released" in capsys.readouterr().err
    assert baseline.read_bytes() == before


@pytest.mark.parametrize("change", BREAKING)
def test_the_same_change_under_a_new_version_passes_the_gate(
    change: str, released: tuple[Path, str, dict[str, Any], str],
) -> None:
    contracts, event_type, schema, enum_property = released
    bumped = next_version(event_type)
    changed = copy.deepcopy(schema)
    BREAKING[change](changed, enum_property)
    changed["$id"] = changed["$id"].replace(event_type, bumped)
    write(contracts / "events", bumped, changed)  # v1 stays as released

    assert compat.check(contracts) == []
    assert compat.release(contracts) == []
    assert sorted(schemas(contracts / "baseline")) == sorted([event_type, bumped])
    # From now on v2 is released too: breaking it fails the gate again.
    remove_a_field(changed, enum_property)
    write(contracts / "events", bumped, changed)
    assert any(p.startswith(f"{bumped}: ") for p in compat.check(contracts))


def test_removing_a_released_schema_fails_the_gate(
    released: tuple[Path, str, dict[str, Any], str],
) -> None:
    contracts, event_type, _schema, _enum = released
    (contracts / "events" / f"{event_type}{compat.SCHEMA_SUFFIX}").unlink()
    assert compat.check(contracts) == [
        f"{event_type}: released schema removed (an old version keeps its schema; "
        f"add a new version beside it instead)"
    ]


def test_a_compatible_change_passes_the_gate_and_is_released(
    released: tuple[Path, str, dict[str, Any], str],
) -> None:
    contracts, event_type, schema, enum_property = released
    changed = copy.deepcopy(schema)
    changed["properties"]["optional_added_by_the_test"] = {"type": "string"}
    changed["properties"][enum_property]["enum"].append("widened_by_the_test")
    changed["description"] += " Reworded by the test."
    path = write(contracts / "events", event_type, changed)
    assert compat.check(contracts) == []
    assert compat.main(["--release", "--contracts-dir", str(contracts)]) == 0
    assert (contracts / "baseline" / path.name).read_bytes() == path.read_bytes()


def test_the_cli_exits_1_and_lists_the_breaking_changes(
    released: tuple[Path, str, dict[str, Any], str],
) -> None:
    contracts, event_type, schema, enum_property = released
    changed = copy.deepcopy(schema)
    expected = narrow_an_enum(changed, enum_property)
    write(contracts / "events", event_type, changed)
    result = subprocess.run(
        [sys.executable, "-m", "contracttools.compat", "--check", "--contracts-dir",
         str(contracts)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    assert result.returncode == 1
    assert f"{event_type}: {expected}" in result.stderr
