"""The schema compatibility gate: released event schemas only change in backward-compatible ways.

``contracts/baseline/<type>.schema.json`` holds each event schema as last released. The gate
compares every current ``contracts/events/<type>.schema.json`` with its baseline copy:

* every released type must still exist (an old version keeps its schema), and
* every current schema must accept whatever its released schema accepted, and keep every
  property it declared (``breaking_changes`` lists what breaks that).

New event types (not in the baseline) are always fine, so an incompatible change is made by
adding a new version (``...v2.schema.json``) beside the unchanged old one.

``python -m contracttools.compat --check`` runs the gate; ``--release`` copies the current schemas
into the baseline, and refuses (exit 1, listing the breaking changes) when the gate fails.

The comparison is conservative: a change it cannot prove compatible (a changed pattern, a new
``oneOf`` branch, a keyword it does not know) counts as breaking.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mashcore.schemas import default_contracts_dir

__all__ = [
    "SCHEMA_SUFFIX",
    "baseline_dir",
    "breaking_changes",
    "check",
    "events_dir",
    "main",
    "release",
]

SCHEMA_SUFFIX = ".schema.json"

# Keywords that never change which documents are valid.
_ANNOTATIONS = frozenset({
    "$schema", "$id", "$anchor", "$dynamicAnchor", "$comment", "$defs", "definitions",
    "title", "description", "examples", "example", "default", "deprecated", "readOnly",
    "writeOnly", "contentMediaType", "contentEncoding", "contentSchema",
})

# Keywords the comparison understands; any other keyword that is added or changed is breaking.
_UNDERSTOOD = frozenset({
    "$ref", "type", "nullable", "enum", "const",
    "properties", "required", "additionalProperties", "patternProperties",
    "minProperties", "maxProperties", "dependentRequired",
    "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
    "minLength", "maxLength", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "allOf", "anyOf", "oneOf", "if", "then", "else",
})

_JSON_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})


class _UnresolvableRef(Exception):
    """A ``$ref`` that does not point into the schema's own document."""


def _canonical(value: Any) -> str:
    """A JSON value as comparable text (1 and 1.0 alike, key order ignored, True is not 1)."""

    def fold(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, Mapping):
            return {str(k): fold(v) for k, v in item.items()}
        if isinstance(item, list):
            return [fold(v) for v in item]
        return item

    return json.dumps(fold(value), sort_keys=True)


def _json_type(value: Any) -> str:
    """The JSON Schema type of a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "dependentSchemas"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_VALUES = frozenset({
    "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "unevaluatedItems", "unevaluatedProperties",
})


def _strip_annotations(schema: Any) -> Any:
    """A schema without its annotations, for comparing what two schemas constrain."""
    if not isinstance(schema, Mapping):
        return schema
    stripped: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword in _SCHEMA_MAPS and isinstance(value, Mapping):
            stripped[keyword] = {name: _strip_annotations(s) for name, s in value.items()}
        elif keyword in _SCHEMA_LISTS and isinstance(value, list):
            stripped[keyword] = [_strip_annotations(s) for s in value]
        elif keyword in _SCHEMA_VALUES:
            stripped[keyword] = _strip_annotations(value)
        else:
            stripped[keyword] = value  # enum, const and the like: values, not schemas
    return stripped


def _accepts_anything(schema: Any) -> bool:
    """True for ``true`` and for schemas with nothing but annotations."""
    return schema is True or (isinstance(schema, Mapping) and not _strip_annotations(schema))


def _pointer(root: Any, ref: str) -> Any:
    """The subschema a local ``#/...`` reference points at."""
    if not ref.startswith("#"):
        raise _UnresolvableRef(ref)
    target = root
    for raw in [p for p in ref[1:].split("/") if p]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, Mapping) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            raise _UnresolvableRef(ref)
    return target


Parts = list[Mapping[str, Any]]
"""The old side of a comparison: schemas that all hold (a conjunction), dereferenced."""


def _intersect_types(a: set[str], b: set[str]) -> set[str]:
    both = a & b
    if ("integer" in a and "number" in b) or ("number" in a and "integer" in b):
        both.add("integer")
    return both


@dataclass
class _Comparison:
    """One comparison of an old schema document with a new one (their roots resolve refs).

    The old side is a conjunction of schemas (a schema, its ``allOf`` branches and whatever
    else is known to hold at that point); the new side is one schema, whose own ``allOf``
    branches, conditionals and alternatives must each follow from the old conjunction.
    """

    old_root: Any
    new_root: Any
    _active: set[tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=set)

    # -- references and conjunctions --------------------------------------------------------

    @staticmethod
    def _deref(schema: Any, root: Any, refs: list[str]) -> Any:
        """Follow local ``$ref``s; sibling keywords are kept as a conjunction (``allOf``)."""
        while isinstance(schema, Mapping) and "$ref" in schema:
            ref = str(schema["$ref"])
            if ref in refs:
                return True  # a reference cycle with no constraint of its own
            refs.append(ref)
            target = _pointer(root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            if target is False:
                return False
            if target is True or _accepts_anything(target):
                schema = rest
            elif _accepts_anything(rest):
                schema = target
            elif not (set(_strip_annotations(rest)) & set(_strip_annotations(target))):
                schema = {**target, **rest}
            else:
                schema = {"allOf": [target, rest]}
        return schema

    def _expand(self, schemas: Sequence[Any], refs: list[str]) -> Parts | None:
        """The conjunction of ``schemas`` and their ``allOf`` branches; None when it is false."""
        parts: Parts = []
        pending = list(schemas)
        while pending:
            schema = self._deref(pending.pop(0), self.old_root, refs)
            if schema is False:
                return None
            if not isinstance(schema, Mapping) or _accepts_anything(schema):
                continue
            if any(schema is part for part in parts):
                continue
            parts.append(schema)
            pending.extend(schema.get("allOf", []))
        return parts

    def _flatten_new(self, schema: Mapping[str, Any]) -> Parts:
        """The new schema and, recursively, its ``allOf`` branches, dereferenced."""
        flat: Parts = [schema]
        for branch in schema.get("allOf", []):
            resolved = self._deref(branch, self.new_root, [])
            if isinstance(resolved, Mapping):
                flat.extend(self._flatten_new(resolved))
        return flat

    # -- the comparison -------------------------------------------------------------------

    def compare(self, old: Sequence[Any], new: Any, path: str, *,
                partial: bool = False) -> list[str]:
        """What ``new`` breaks of the conjunction ``old`` at ``path``.

        ``partial``: ``new`` is one branch of a schema, not its whole shape, so a property it
        does not mention is not removed.
        """
        old_refs: list[str] = []
        new_refs: list[str] = []
        try:
            parts = self._expand(old, old_refs)
        except _UnresolvableRef as exc:
            same = [s.get("$ref") for s in old if isinstance(s, Mapping) and "$ref" in s]
            if isinstance(new, Mapping) and new.get("$ref") in same:
                return []  # the same external schema on both sides
            return [f"{path}: $ref changed ({exc} cannot be resolved; cannot prove compatible)"]
        try:
            resolved = self._deref(new, self.new_root, new_refs)
        except _UnresolvableRef as exc:
            return [f"{path}: $ref cannot be resolved ({exc})"]
        if parts is None:
            return []  # nothing was valid, so nothing can break
        if resolved is False:
            return [f"{path}: schema became false (everything is now rejected)"]
        if not isinstance(resolved, Mapping):
            resolved = {}
        key = (tuple(sorted(old_refs)), tuple(sorted(new_refs)))
        if old_refs or new_refs:
            if key in self._active:
                return []  # already comparing this pair further up a recursive schema
            self._active.add(key)
        try:
            changes = [
                *self._types(parts, resolved, path),
                *self._values(parts, resolved, path),
                *self._strings(parts, resolved, path),
                *self._numbers(parts, resolved, path),
                *self._arrays(parts, resolved, path, partial),
                *self._objects(parts, resolved, path, partial),
                *self._all_of(parts, resolved, path),
                *self._alternatives(parts, resolved, path, "anyOf"),
                *self._alternatives(parts, resolved, path, "oneOf"),
                *self._conditional(parts, resolved, path),
                *self._unknown(parts, resolved, path),
            ]
        finally:
            self._active.discard(key)
        return list(dict.fromkeys(changes))

    def _implied(self, parts: Parts, new: Any, path: str) -> bool:
        """Whether the old conjunction implies ``new`` (a branch)."""
        return not self.compare(parts, new, path, partial=True)

    # -- type, enum and const ---------------------------------------------------------------

    @staticmethod
    def _declared_types(schema: Mapping[str, Any]) -> set[str] | None:
        declared = schema.get("type")
        if declared is None:
            return None
        types = {declared} if isinstance(declared, str) else set(declared)
        if schema.get("nullable") is True:
            types.add("null")
        return types

    @staticmethod
    def _values_of(schema: Mapping[str, Any]) -> list[Any] | None:
        values: list[Any] | None = None
        if "const" in schema:
            values = [schema["const"]]
        if "enum" in schema:
            allowed = {_canonical(v) for v in schema["enum"]}
            values = list(schema["enum"]) if values is None else [
                v for v in values if _canonical(v) in allowed]
        return values

    def _old_values(self, parts: Parts) -> list[Any] | None:
        values: list[Any] | None = None
        for part in parts:
            mine = self._values_of(part)
            if mine is None:
                continue
            if values is None:
                values = mine
            else:
                allowed = {_canonical(v) for v in mine}
                values = [v for v in values if _canonical(v) in allowed]
        return values

    def _types(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        new_types = self._declared_types(new)
        if new_types is None:
            return []
        old_types: set[str] | None = None
        for part in parts:
            mine = self._declared_types(part)
            if mine is not None:
                old_types = mine if old_types is None else _intersect_types(old_types, mine)
        if old_types is None:
            values = self._old_values(parts)
            if values is None:
                return [f"{path}: type narrowed (was any type, now {sorted(new_types)})"]
            old_types = {_json_type(v) for v in values}

        def allowed(kind: str) -> bool:
            return kind in new_types or (kind == "integer" and "number" in new_types)

        lost = sorted(t for t in old_types if t in _JSON_TYPES and not allowed(t))
        if lost:
            return [f"{path}: type narrowed (no longer allows {', '.join(lost)})"]
        return []

    def _values(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        new_values = self._values_of(new)
        if new_values is None:
            return []
        old_values = self._old_values(parts)
        if old_values is None:
            if "const" in new:
                return [f"{path}: const added ({_show(new['const'])})"]
            return [f"{path}: enum added ({_show(new['enum'])})"]
        kept = {_canonical(v) for v in new_values}
        removed = [v for v in old_values if _canonical(v) not in kept]
        if not removed:
            return []
        old_const = next((part["const"] for part in parts if "const" in part), None)
        if old_const is not None and "const" in new:
            return [f"{path}: const changed ({_show(old_const)} -> {_show(new['const'])})"]
        return [f"{path}: enum value removed ({', '.join(_show(v) for v in removed)})"]

    # -- bounds ---------------------------------------------------------------------------

    @staticmethod
    def _bound(parts: Parts, new: Mapping[str, Any], path: str, keyword: str,
               *, lower: bool) -> list[str]:
        """A minimum-like (``lower``) or maximum-like keyword that was added or tightened."""
        if keyword not in new:
            return []
        after = new[keyword]
        olds = [part[keyword] for part in parts if keyword in part]
        if not olds:
            return [f"{path}: {keyword} added ({_show(after)})"]
        before = max(olds) if lower else min(olds)
        if (after > before) if lower else (after < before):
            word = "raised" if lower else "lowered"
            return [f"{path}: {keyword} {word} ({_show(before)} -> {_show(after)})"]
        return []

    @staticmethod
    def _flag(parts: Parts, new: Mapping[str, Any], path: str, keyword: str) -> list[str]:
        """A keyword whose addition or any change may reject old documents."""
        if keyword not in new:
            return []
        olds = [part[keyword] for part in parts if keyword in part]
        if not olds:
            return [f"{path}: {keyword} added ({_show(new[keyword])})"]
        if any(_canonical(old) == _canonical(new[keyword]) for old in olds):
            return []
        return [f"{path}: {keyword} changed ({_show(olds[0])} -> {_show(new[keyword])})"]

    def _strings(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        return [
            *self._bound(parts, new, path, "minLength", lower=True),
            *self._bound(parts, new, path, "maxLength", lower=False),
            *self._flag(parts, new, path, "pattern"),
            *self._flag(parts, new, path, "format"),
        ]

    @staticmethod
    def _limit(schemas: Iterable[Mapping[str, Any]], *, lower: bool) -> tuple[Any, bool] | None:
        """The strictest (value, exclusive) lower or upper bound the schemas set on a number."""
        inclusive_kw, exclusive_kw = ("minimum", "exclusiveMinimum") if lower else (
            "maximum", "exclusiveMaximum")
        limits: list[tuple[Any, bool]] = []
        for schema in schemas:
            exclusive = schema.get(exclusive_kw)
            if inclusive_kw in schema:
                # Draft 4 spelled exclusivity as a boolean beside minimum/maximum.
                limits.append((schema[inclusive_kw], exclusive is True))
            if isinstance(exclusive, int | float) and not isinstance(exclusive, bool):
                limits.append((exclusive, True))
        if not limits:
            return None

        def strictness(limit: tuple[Any, bool]) -> tuple[Any, bool]:
            value, is_exclusive = limit
            return (value, is_exclusive) if lower else (-value, is_exclusive)

        return max(limits, key=strictness)

    def _numbers(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        changes = []
        for lower, name in ((True, "minimum"), (False, "maximum")):
            after = self._limit([new], lower=lower)
            if after is None:
                continue
            kind = "exclusive " if after[1] else ""
            before = self._limit(parts, lower=lower)
            if before is None:
                changes.append(f"{path}: {name} added ({kind}{_show(after[0])})")
                continue
            tighter = after[0] > before[0] if lower else after[0] < before[0]
            if tighter or (after[0] == before[0] and after[1] and not before[1]):
                word = "raised" if lower else "lowered"
                changes.append(f"{path}: {name} {word} ({_show(before[0])} -> "
                               f"{kind}{_show(after[0])})")
        if "multipleOf" in new:
            step = new["multipleOf"]
            olds = [part["multipleOf"] for part in parts if "multipleOf" in part]
            if not olds:
                changes.append(f"{path}: multipleOf added ({_show(step)})")
            elif not any(math.isclose(old / step, round(old / step)) for old in olds):
                changes.append(f"{path}: multipleOf changed ({_show(olds[0])} -> "
                               f"{_show(step)})")
        return changes

    # -- arrays ---------------------------------------------------------------------------

    def _arrays(self, parts: Parts, new: Mapping[str, Any], path: str,
                partial: bool) -> list[str]:
        changes = [
            *self._bound(parts, new, path, "minItems", lower=True),
            *self._bound(parts, new, path, "maxItems", lower=False),
        ]
        if new.get("uniqueItems") is True and not any(p.get("uniqueItems") for p in parts):
            changes.append(f"{path}: uniqueItems added")

        def old_at(index: int) -> list[Any]:
            """The old schemas for the item at ``index`` (a conjunction)."""
            at = []
            for part in parts:
                prefix = part.get("prefixItems", [])
                at.append(prefix[index] if index < len(prefix) else part.get("items", True))
            return at

        new_prefix: list[Any] = list(new.get("prefixItems", []))
        for index, item in enumerate(new_prefix):
            changes += self.compare(old_at(index), item, f"{path}[{index}]", partial=partial)
        if "items" in new:
            longest = max((len(p.get("prefixItems", [])) for p in parts), default=0)
            for index in range(len(new_prefix), longest):
                changes += self.compare(old_at(index), new["items"], f"{path}[{index}]",
                                        partial=partial)
            rest = [part.get("items", True) for part in parts]
            changes += self.compare(rest, new["items"], f"{path}[*]", partial=partial)
        return changes

    # -- objects --------------------------------------------------------------------------

    def _objects(self, parts: Parts, new: Mapping[str, Any], path: str,
                 partial: bool) -> list[str]:
        changes: list[str] = []
        old_declared: dict[str, list[Any]] = {}
        for part in parts:
            for name, subschema in part.get("properties", {}).items():
                old_declared.setdefault(name, []).append(subschema)
        old_required = {name for part in parts for name in part.get("required", [])}
        old_additional = [p["additionalProperties"] for p in parts
                          if "additionalProperties" in p
                          and not _accepts_anything(p["additionalProperties"])]
        old_closed = any(rule is False for rule in old_additional)
        if not partial:
            new_declared = {name for part in self._flatten_new(new)
                            for name in part.get("properties", {})}
            changes += [f"{path}.{name}: property removed"
                        for name in old_declared if name not in new_declared]
        for name, subschema in new.get("properties", {}).items():
            where = f"{path}.{name}"
            if name in old_declared:
                changes += self.compare(old_declared[name], subschema, where, partial=partial)
                continue
            # A new property: documents that already had the key met the old rules for it.
            rules = [s for part in parts for pattern, s in
                     part.get("patternProperties", {}).items() if re.search(pattern, name)]
            rules = rules or old_additional
            if rules and not any(rule is False for rule in rules):
                changes += self.compare(rules, subschema, where, partial=partial)
        for name in new.get("required", []):
            if name not in old_required:
                kind = "property became required" if name in old_declared else (
                    "new required property")
                changes.append(f"{path}.{name}: {kind}")
        new_additional = new.get("additionalProperties", True)
        if new_additional is False and not old_closed:
            changes.append(f"{path}: additionalProperties closed (was allowed, now false)")
        elif not _accepts_anything(new_additional) and not old_closed:
            changes += self.compare(old_additional, new_additional, f"{path}.*",
                                    partial=partial)
        for pattern, subschema in new.get("patternProperties", {}).items():
            where = f"{path}[/{pattern}/]"
            same = [p["patternProperties"][pattern] for p in parts
                    if pattern in p.get("patternProperties", {})]
            if same:
                changes += self.compare(same, subschema, where, partial=partial)
            elif not _accepts_anything(subschema):
                changes.append(f"{where}: patternProperties added")
        changes += self._bound(parts, new, path, "minProperties", lower=True)
        changes += self._bound(parts, new, path, "maxProperties", lower=False)
        for name, needed in new.get("dependentRequired", {}).items():
            before = {n for p in parts for n in p.get("dependentRequired", {}).get(name, [])}
            extra = sorted(set(needed) - before - old_required)
            if extra:
                changes.append(f"{path}.{name}: dependentRequired added ({', '.join(extra)})")
        return changes

    # -- combinators ----------------------------------------------------------------------

    def _all_of(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        """Each new ``allOf`` branch must already follow from the old schema."""
        changes: list[str] = []
        for index, branch in enumerate(new.get("allOf", [])):
            changes += self.compare(parts, branch, f"{path}/allOf[{index}]", partial=True)
        return changes

    def _alternatives(self, parts: Parts, new: Mapping[str, Any], path: str,
                      keyword: str) -> list[str]:
        """Every old ``anyOf``/``oneOf`` branch must fit a new one; ``oneOf`` may not gain any."""
        if keyword not in new:
            return []
        branches: list[Any] = list(new[keyword])
        old_part = next((p for p in parts if keyword in p), None)
        if old_part is None:
            if keyword == "anyOf" and any(self._implied(parts, b, path) for b in branches):
                return []
            return [f"{path}: {keyword} added"]
        changes: list[str] = []
        matched: set[int] = set()
        for index, before in enumerate(old_part[keyword]):
            fits = [i for i, after in enumerate(branches)
                    if i not in matched and self._implied([*parts, before], after, path)]
            if fits:
                matched.add(fits[0])
            else:
                changes.append(f"{path}/{keyword}[{index}]: branch removed or narrowed")
        if keyword == "oneOf":
            changes += [f"{path}/oneOf[{i}]: branch added (a document could match two)"
                        for i in range(len(branches)) if i not in matched]
        return changes

    def _conditional(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        """``then``/``else`` may only require what held already (under the same condition)."""
        if "if" not in new:
            return []
        condition = _canonical(_strip_annotations(new["if"]))
        same = next((p for p in parts if "if" in p
                     and _canonical(_strip_annotations(p["if"])) == condition), None)
        changes: list[str] = []
        for branch in ("then", "else"):
            if branch in new:
                known = [*parts, same.get(branch, True)] if same is not None else parts
                changes += self.compare(known, new[branch], f"{path}/{branch}", partial=True)
        if changes and same is None:
            changes.insert(0, f"{path}/if: new or changed condition")
        return changes

    def _unknown(self, parts: Parts, new: Mapping[str, Any], path: str) -> list[str]:
        return [
            f"{path}: keyword {keyword!r} added or changed (not understood; treated as breaking)"
            for keyword in new
            if keyword not in _ANNOTATIONS and keyword not in _UNDERSTOOD
            and not any(keyword in p and _canonical(p[keyword]) == _canonical(new[keyword])
                        for p in parts)
        ]


def breaking_changes(old: dict[str, Any], new: dict[str, Any], path: str = "") -> list[str]:
    """Each way ``new`` is not backward compatible with ``old``, as ``<JSON path>: <change>``."""
    return _Comparison(old, new).compare([old], new, path or "$")


# -- the gate over contracts/ ---------------------------------------------------------------


def events_dir(contracts_dir: Path | None = None) -> Path:
    """The folder of current event schemas."""
    return (contracts_dir or default_contracts_dir()) / "events"


def baseline_dir(contracts_dir: Path | None = None) -> Path:
    """The folder of released event schemas."""
    return (contracts_dir or default_contracts_dir()) / "baseline"


def _schemas(folder: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(folder.glob(f"*{SCHEMA_SUFFIX}")):
        yield path.name.removesuffix(SCHEMA_SUFFIX), path


def _load(path: Path) -> dict[str, Any]:
    loaded = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError("not a JSON object")
    return loaded


def check(contracts_dir: Path | None = None) -> list[str]:
    """Every way the current event schemas break the released ones; empty when the gate passes."""
    current = dict(_schemas(events_dir(contracts_dir)))
    problems: list[str] = []
    for event_type, released_path in _schemas(baseline_dir(contracts_dir)):
        if event_type not in current:
            problems.append(f"{event_type}: released schema removed (an old version keeps its "
                            f"schema; add a new version beside it instead)")
            continue
        try:
            released, now = _load(released_path), _load(current[event_type])
        except ValueError as exc:
            problems.append(f"{event_type}: cannot read the schema ({exc})")
            continue
        problems += [f"{event_type}: {change}" for change in breaking_changes(released, now)]
    return problems


def release(contracts_dir: Path | None = None) -> list[str]:
    """Copy the current schemas into the baseline, unless the gate fails (then its problems)."""
    problems = check(contracts_dir)
    if problems:
        return problems
    target = baseline_dir(contracts_dir)
    target.mkdir(parents=True, exist_ok=True)
    for _event_type, path in _schemas(events_dir(contracts_dir)):
        shutil.copyfile(path, target / path.name)
    return []


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``--check`` runs the gate; ``--release`` records the current schemas as released."""
    parser = argparse.ArgumentParser(prog="python -m contracttools.compat",
                                     description="The event schema compatibility gate.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true",
                      help="exit 1 if a current schema breaks its released version")
    mode.add_argument("--release", action="store_true",
                      help="copy contracts/events/ into contracts/baseline/ if compatible")
    parser.add_argument("--contracts-dir", type=Path, default=None,
                        help="the contracts folder (default: the repository's)")
    args = parser.parse_args(argv)
    problems = check(args.contracts_dir) if args.check else release(args.contracts_dir)
    if problems:
        print("Breaking changes to released event schemas (add a new version instead, e.g. "
              "<type>.v2.schema.json, and keep the old one):", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        if args.release:
            print("Nothing was released.", file=sys.stderr)
        return 1
    released = sum(1 for _ in _schemas(baseline_dir(args.contracts_dir)))
    if args.release:
        print(f"Released {released} event schemas into {baseline_dir(args.contracts_dir)}")
    else:
        current = sum(1 for _ in _schemas(events_dir(args.contracts_dir)))
        print(f"Schema compatibility: {released} released schemas checked, "
              f"{current} current; no breaking change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
