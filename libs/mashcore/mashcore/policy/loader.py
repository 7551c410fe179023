"""Load and validate policy packs, with errors that name the file, line and field.

A pack that does not validate stops the service at start-up: a hub must never decide
under a half-read policy. PyYAML's composer keeps every node's position, so each error
from pydantic (a path such as ``indicators[3].level``) is reported at its line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mashcore.policy.model import PolicyPack, reference_errors

DEFAULT_PACK = "default"
Loc = tuple[str | int, ...]


def default_policy_dir() -> Path:
    """``MASH_POLICY_DIR`` or the repository's ``policy/partnerships`` folder."""
    configured = os.environ.get("MASH_POLICY_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[4] / "policy" / "partnerships"


class PolicyError(ValueError):
    """One or more packs are invalid; the message lists every problem as file:line: field."""


@dataclass(frozen=True)
class Problem:
    file: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else \
            f"{where}: {self.message}"


def _field_name(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _compose(text: str, file: Path) -> tuple[Any, dict[Loc, int]]:
    """The data and the 1-based line of every path in it."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(str(Problem(file, line, "", f"not valid YAML: {problem}"))) from None
    lines: dict[Loc, int] = {}
    constructor = yaml.SafeLoader("")
    duplicates: list[Problem] = []

    def build(node: yaml.Node | None, loc: Loc) -> Any:
        if node is None:
            return None
        lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = constructor.construct_object(key_node, deep=True)
                if key in out:
                    duplicates.append(Problem(file, key_node.start_mark.line + 1,
                                              _field_name((*loc, key)), "duplicate key"))
                out[key] = build(value_node, (*loc, key))
                lines[(*loc, key)] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(node.value)]
        return constructor.construct_object(node, deep=True)

    data = build(root, ())
    if duplicates:
        raise PolicyError("\n".join(str(p) for p in duplicates))
    return data, lines


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int:
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def load_pack(file: Path) -> PolicyPack:
    """One pack, validated; ``PolicyError`` lists every problem found."""
    text = file.read_text(encoding="utf-8")
    data, lines = _compose(text, file)
    try:
        pack = PolicyPack.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            loc = tuple(error["loc"])
            problems.append(Problem(file, _line_of(loc, lines), _field_name(loc) or "(pack)",
                                    error["msg"]))
        raise PolicyError("\n".join(str(p) for p in problems)) from None
    problems = [Problem(file, _line_of(loc, lines), _field_name(loc), message)
                for loc, message in reference_errors(pack)]
    if pack.partnership != file.stem:
        problems.append(Problem(file, _line_of(("partnership",), lines), "partnership",
                                f"{pack.partnership!r} does not match the file name "
                                f"{file.name!r}"))
    if problems:
        raise PolicyError("\n".join(str(p) for p in problems))
    return pack


class PolicyBook:
    """Every partnership's pack; a partnership without its own gets the default pack."""

    def __init__(self, packs: dict[str, PolicyPack]) -> None:
        if DEFAULT_PACK not in packs:
            raise PolicyError(f"no {DEFAULT_PACK}.yaml pack: every partnership needs a fallback")
        self._packs = packs

    @classmethod
    def load(cls, folder: Path | None = None) -> PolicyBook:
        """Every ``*.yaml`` in the folder; all problems of all files in one error."""
        folder = folder or default_policy_dir()
        files = sorted(folder.glob("*.yaml"))
        if not files:
            raise PolicyError(f"{folder}: no policy packs (*.yaml) found")
        packs: dict[str, PolicyPack] = {}
        errors: list[str] = []
        for file in files:
            try:
                packs[file.stem] = load_pack(file)
            except PolicyError as exc:
                errors.append(str(exc))
        if errors:
            raise PolicyError("invalid policy pack:\n" + "\n".join(errors))
        return cls(packs)

    def for_partnership(self, partnership: str) -> PolicyPack:
        """The partnership's own pack, else the default."""
        return self._packs.get(partnership) or self._packs[DEFAULT_PACK]

    def partnerships(self) -> list[str]:
        """The partnerships with a pack of their own (and ``default``)."""
        return sorted(self._packs)
