"""Which changes to an event schema are breaking (contracttools.compat.breaking_changes)."""

from __future__ import annotations

import copy
from typing import Any

from contracttools.compat import breaking_changes


def event(**properties: Any) -> dict[str, Any]:
    """A closed event schema with the given properties, all required."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": list(properties),
        "properties": properties,
    }


BASE = event(
    case_reference={"type": "string", "pattern": "^MASH-[0-9]{4}$"},
    kind={"enum": ["contact", "referral"]},
    status={"const": "open"},
    score={"type": "integer", "minimum": 0, "maximum": 10},
    note={"type": ["string", "null"], "minLength": 1, "maxLength": 200},
    children={
        "type": "array",
        "minItems": 1,
        "maxItems": 10,
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["identity_unknown"],
            "properties": {
                "first_name": {"type": ["string", "null"]},
                "identity_unknown": {"type": "boolean"},
            },
        },
    },
)


def changed(edit: Any) -> dict[str, Any]:
    """A copy of BASE after ``edit(schema)``."""
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def only(changes: list[str]) -> str:
    assert len(changes) == 1, changes
    return changes[0]


# -- breaking ------------------------------------------------------------------------------


def test_an_unchanged_schema_has_no_breaking_change() -> None:
    assert breaking_changes(BASE, copy.deepcopy(BASE)) == []


def test_removing_a_property_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        del s["properties"]["score"]
        s["required"].remove("score")

    assert only(breaking_changes(BASE, changed(edit))) == "$.score: property removed"


def test_removing_an_optional_property_of_an_open_object_is_still_breaking() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    new = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert breaking_changes(old, new) == ["$.b: property removed"]


def test_renaming_a_property_is_breaking_as_a_removal_and_a_new_required_property() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["rating"] = s["properties"].pop("score")
        s["required"] = [("rating" if r == "score" else r) for r in s["required"]]

    assert breaking_changes(BASE, changed(edit)) == [
        "$.score: property removed",
        "$.rating: new required property",
    ]


def test_adding_a_required_property_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["partnership"] = {"type": "string"}
        s["required"].append("partnership")

    assert only(breaking_changes(BASE, changed(edit))) == "$.partnership: new required property"


def test_making_an_optional_property_required_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["children"]["items"]["required"].append("first_name")

    assert only(breaking_changes(BASE, changed(edit))) == (
        "$.children[*].first_name: property became required"
    )


def test_narrowing_a_type_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["note"]["type"] = "string"

    assert only(breaking_changes(BASE, changed(edit))) == (
        "$.note: type narrowed (no longer allows null)"
    )


def test_narrowing_number_to_integer_is_breaking() -> None:
    old = {"type": "number"}
    assert only(breaking_changes(old, {"type": "integer"})) == (
        "$: type narrowed (no longer allows number)"
    )


def test_declaring_a_type_where_any_was_allowed_is_breaking() -> None:
    assert only(breaking_changes({}, {"type": "string"})) == (
        "$: type narrowed (was any type, now ['string'])"
    )


def test_dropping_nullable_is_breaking() -> None:
    old = {"type": "string", "nullable": True}
    assert only(breaking_changes(old, {"type": "string"})) == (
        "$: type narrowed (no longer allows null)"
    )


def test_removing_an_enum_value_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["kind"]["enum"] = ["referral"]

    assert only(breaking_changes(BASE, changed(edit))) == (
        '$.kind: enum value removed ("contact")'
    )


def test_adding_an_enum_where_there_was_none_is_breaking() -> None:
    assert only(breaking_changes({"type": "string"}, {"type": "string", "enum": ["a"]})) == (
        '$: enum added (["a"])'
    )


def test_changing_a_const_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["status"]["const"] = "closed"

    assert only(breaking_changes(BASE, changed(edit))) == (
        '$.status: const changed ("open" -> "closed")'
    )


def test_adding_a_const_is_breaking() -> None:
    assert only(breaking_changes({"type": "string"}, {"type": "string", "const": "a"})) == (
        '$: const added ("a")'
    )


def test_narrowing_an_enum_to_a_const_is_breaking() -> None:
    assert only(breaking_changes({"enum": ["a", "b"]}, {"const": "a"})) == (
        '$: enum value removed ("b")'
    )


def test_closing_additional_properties_is_breaking() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {**old, "additionalProperties": False}
    assert only(breaking_changes(old, new)) == (
        "$: additionalProperties closed (was allowed, now false)"
    )


def test_constraining_additional_properties_is_breaking() -> None:
    old = {"type": "object", "additionalProperties": {"type": ["string", "integer"]}}
    new = {"type": "object", "additionalProperties": {"type": "string"}}
    assert only(breaking_changes(old, new)) == "$.*: type narrowed (no longer allows integer)"


def test_a_new_property_stricter_than_the_old_additional_properties_is_breaking() -> None:
    old = {"type": "object", "additionalProperties": {"type": ["string", "null"]}}
    new = {**old, "properties": {"note": {"type": "string"}}}
    assert only(breaking_changes(old, new)) == "$.note: type narrowed (no longer allows null)"


def test_raising_min_length_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["note"]["minLength"] = 5

    assert only(breaking_changes(BASE, changed(edit))) == "$.note: minLength raised (1 -> 5)"


def test_lowering_max_length_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["note"]["maxLength"] = 100

    assert only(breaking_changes(BASE, changed(edit))) == (
        "$.note: maxLength lowered (200 -> 100)"
    )


def test_adding_a_max_length_is_breaking() -> None:
    assert only(breaking_changes({"type": "string"}, {"type": "string", "maxLength": 9})) == (
        "$: maxLength added (9)"
    )


def test_raising_a_minimum_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["score"]["minimum"] = 1

    assert only(breaking_changes(BASE, changed(edit))) == "$.score: minimum raised (0 -> 1)"


def test_making_a_minimum_exclusive_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        del s["properties"]["score"]["minimum"]
        s["properties"]["score"]["exclusiveMinimum"] = 0

    assert only(breaking_changes(BASE, changed(edit))) == (
        "$.score: minimum raised (0 -> exclusive 0)"
    )


def test_lowering_a_maximum_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["score"]["maximum"] = 5

    assert only(breaking_changes(BASE, changed(edit))) == "$.score: maximum lowered (10 -> 5)"


def test_adding_a_multiple_of_is_breaking() -> None:
    assert only(breaking_changes({"type": "integer"}, {"type": "integer", "multipleOf": 5})) == (
        "$: multipleOf added (5)"
    )


def test_adding_a_pattern_where_there_was_none_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["note"]["pattern"] = "^[A-Z]"

    assert only(breaking_changes(BASE, changed(edit))) == '$.note: pattern added ("^[A-Z]")'


def test_changing_a_pattern_is_breaking_because_it_cannot_be_proved_wider() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["case_reference"]["pattern"] = "^MASH-[0-9]{4,}$"

    assert only(breaking_changes(BASE, changed(edit))).startswith(
        "$.case_reference: pattern changed"
    )


def test_adding_a_format_where_there_was_none_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["children"]["items"]["properties"]["first_name"]["format"] = "email"

    assert only(breaking_changes(BASE, changed(edit))) == (
        '$.children[*].first_name: format added ("email")'
    )


def test_changing_a_format_is_breaking() -> None:
    old = {"type": "string", "format": "date-time"}
    assert only(breaking_changes(old, {"type": "string", "format": "date"})) == (
        '$: format changed ("date-time" -> "date")'
    )


def test_raising_min_items_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["children"]["minItems"] = 2

    assert only(breaking_changes(BASE, changed(edit))) == "$.children: minItems raised (1 -> 2)"


def test_lowering_max_items_is_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["children"]["maxItems"] = 3

    assert only(breaking_changes(BASE, changed(edit))) == "$.children: maxItems lowered (10 -> 3)"


def test_requiring_unique_items_is_breaking() -> None:
    old = {"type": "array", "items": {"type": "string"}}
    assert only(breaking_changes(old, {**old, "uniqueItems": True})) == "$: uniqueItems added"


def test_narrowing_array_items_is_breaking_and_names_the_item_path() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["children"]["items"]["properties"]["identity_unknown"]["const"] = False

    assert only(breaking_changes(BASE, changed(edit))) == (
        "$.children[*].identity_unknown: const added (false)"
    )


def test_declaring_items_where_any_item_was_allowed_is_breaking() -> None:
    old = {"type": "array"}
    assert only(breaking_changes(old, {"type": "array", "items": {"type": "string"}})) == (
        "$[*]: type narrowed (was any type, now ['string'])"
    )


def test_narrowing_a_tuple_position_is_breaking() -> None:
    old = {"type": "array", "prefixItems": [{"type": "string"}, {"type": ["integer", "null"]}]}
    new = {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}
    assert only(breaking_changes(old, new)) == "$[1]: type narrowed (no longer allows null)"


def test_a_breaking_change_behind_a_local_ref_is_found() -> None:
    def with_child(child: dict[str, Any]) -> dict[str, Any]:
        return {
            "$defs": {"child": child},
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/child"}}},
        }

    old = with_child({"type": "object", "properties": {"age": {"type": "integer"}}})
    new = with_child({"type": "object", "properties": {"age": {"type": "integer",
                                                               "maximum": 17}}})
    assert only(breaking_changes(old, new)) == "$.children[*].age: maximum added (17)"


def test_a_recursive_schema_is_compared_without_looping() -> None:
    def tree(value: dict[str, Any]) -> dict[str, Any]:
        return {
            "$ref": "#/$defs/node",
            "$defs": {"node": {"type": "object", "properties": {
                "value": value,
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            }}},
        }

    assert breaking_changes(tree({"type": "string"}), tree({"type": "string"})) == []
    assert only(breaking_changes(tree({"type": "string"}), tree({"const": "x"}))) == (
        '$.value: const added ("x")'
    )


def test_a_ref_that_cannot_be_resolved_is_breaking() -> None:
    new = {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    assert only(breaking_changes(old, new)) == "$.a: $ref cannot be resolved (#/$defs/missing)"


def test_a_new_all_of_constraint_is_breaking() -> None:
    new = changed(lambda s: s.update(allOf=[{"properties": {"score": {"maximum": 3}}}]))
    assert only(breaking_changes(BASE, new)) == "$/allOf[0].score: maximum lowered (10 -> 3)"


def test_a_new_one_of_branch_is_breaking() -> None:
    old = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    new = {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}
    assert only(breaking_changes(old, new)) == (
        "$/oneOf[2]: branch added (a document could match two)"
    )


def test_narrowing_an_any_of_branch_is_breaking() -> None:
    old = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    new = {"anyOf": [{"type": "string", "maxLength": 3}, {"type": "integer"}]}
    assert only(breaking_changes(old, new)) == "$/anyOf[0]: branch removed or narrowed"


def test_a_new_conditional_requirement_is_breaking() -> None:
    new = changed(lambda s: s.update({
        "if": {"properties": {"kind": {"const": "referral"}}},
        "then": {"required": ["consent"]},
    }))
    assert breaking_changes(BASE, new) == [
        "$/if: new or changed condition",
        "$/then.consent: new required property",
    ]


def test_changing_a_condition_is_breaking_when_its_branch_adds_a_constraint() -> None:
    def conditional(value: str) -> dict[str, Any]:
        return changed(lambda s: s.update({
            "if": {"properties": {"kind": {"const": value}}},
            "then": {"properties": {"score": {"minimum": 5}}},
        }))

    changes = breaking_changes(conditional("referral"), conditional("contact"))
    assert changes == [
        "$/if: new or changed condition",
        "$/then.score: minimum raised (0 -> 5)",
    ]
    assert breaking_changes(conditional("referral"), conditional("referral")) == []


def conditional_agency(then_agency: dict[str, Any]) -> dict[str, Any]:
    """An event whose ``agency`` is a string for one kind and null otherwise (as the SLA ones)."""
    return {
        "type": "object",
        "properties": {
            "kind": {"enum": ["contact", "referral"]},
            "agency": {"type": ["string", "null"], "enum": ["police", "public", None]},
        },
        "allOf": [{
            "if": {"properties": {"kind": {"const": "referral"}}, "required": ["kind"]},
            "then": {"properties": {"agency": then_agency}},
            "else": {"properties": {"agency": {"type": "null"}}},
        }],
    }


def test_tightening_a_branch_of_a_released_conditional_is_breaking() -> None:
    old = conditional_agency({"type": "string"})
    new = conditional_agency({"type": "string", "not": {"const": "public"}})
    assert only(breaking_changes(old, new)) == (
        "$/allOf[0]/then.agency: keyword 'not' added or changed "
        "(not understood; treated as breaking)"
    )


def test_a_branch_is_checked_against_everything_the_old_schema_said() -> None:
    old = conditional_agency({"type": "string"})
    new = copy.deepcopy(old)
    new["allOf"][0]["if"]["properties"]["kind"]["const"] = "contact"
    assert breaking_changes(old, new) == [
        "$/allOf[0]/if: new or changed condition",
        "$/allOf[0]/then.agency: type narrowed (no longer allows null)",
        "$/allOf[0]/else.agency: type narrowed (no longer allows string)",
    ]


def test_a_schema_that_becomes_false_is_breaking() -> None:
    old = {"type": "object", "properties": {"a": {"type": "string"}}}
    new = {"type": "object", "properties": {"a": False}}
    assert only(breaking_changes(old, new)) == (
        "$.a: schema became false (everything is now rejected)"
    )


def test_a_keyword_the_gate_does_not_understand_counts_as_breaking() -> None:
    new = {"type": "string", "not": {"const": ""}}
    assert only(breaking_changes({"type": "string"}, new)) == (
        "$: keyword 'not' added or changed (not understood; treated as breaking)"
    )


def test_every_breaking_change_is_listed_with_its_path() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["kind"]["enum"] = ["referral"]
        s["properties"]["note"]["maxLength"] = 10
        del s["properties"]["children"]["items"]["properties"]["first_name"]

    assert breaking_changes(BASE, changed(edit)) == [
        '$.kind: enum value removed ("contact")',
        "$.note: maxLength lowered (200 -> 10)",
        "$.children[*].first_name: property removed",
    ]


def test_the_path_argument_prefixes_every_message() -> None:
    assert breaking_changes({"type": "number"}, {"type": "integer"}, "$.score") == [
        "$.score: type narrowed (no longer allows number)"
    ]


# -- not breaking ----------------------------------------------------------------------------


def test_adding_an_optional_property_is_not_breaking() -> None:
    new = changed(lambda s: s["properties"].update(partnership={"type": "string"}))
    assert breaking_changes(BASE, new) == []


def test_widening_an_enum_is_not_breaking() -> None:
    new = changed(lambda s: s["properties"]["kind"].update(enum=["contact", "referral", "self"]))
    assert breaking_changes(BASE, new) == []


def test_replacing_a_const_by_an_enum_that_keeps_it_is_not_breaking() -> None:
    new = changed(lambda s: s["properties"].update(status={"enum": ["open", "closed"]}))
    assert breaking_changes(BASE, new) == []


def test_changing_descriptions_titles_and_examples_is_not_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["title"] = "A new title"
        s["description"] = "Reworded."
        s["examples"] = [{"anything": "goes"}]
        s["properties"]["kind"]["description"] = "Contact or referral."
        s["properties"]["score"]["examples"] = [3]
        s["$comment"] = "note to maintainers"

    assert breaking_changes(BASE, changed(edit)) == []


def test_widening_a_type_is_not_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["score"]["type"] = ["number", "null"]

    assert breaking_changes(BASE, changed(edit)) == []


def test_declaring_the_type_an_enum_already_implied_is_not_breaking() -> None:
    new = changed(lambda s: s["properties"]["kind"].update(type="string"))
    assert breaking_changes(BASE, new) == []


def test_loosening_bounds_is_not_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        del s["properties"]["case_reference"]["pattern"]
        s["properties"]["score"].update(minimum=-1, maximum=100)
        s["properties"]["note"].update(minLength=0)
        del s["properties"]["note"]["maxLength"]
        s["properties"]["children"].update(minItems=0, maxItems=50)

    assert breaking_changes(BASE, changed(edit)) == []


def test_opening_additional_properties_is_not_breaking() -> None:
    new = changed(lambda s: s.pop("additionalProperties"))
    assert breaking_changes(BASE, new) == []


def test_making_a_required_property_optional_is_not_breaking() -> None:
    new = changed(lambda s: s["required"].remove("score"))
    assert breaking_changes(BASE, new) == []


def test_moving_a_schema_behind_a_local_ref_is_not_breaking() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["$defs"] = {"child": s["properties"]["children"]["items"]}
        s["properties"]["children"]["items"] = {"$ref": "#/$defs/child"}

    assert breaking_changes(BASE, changed(edit)) == []


def test_rewording_a_released_conditional_is_not_breaking() -> None:
    old = conditional_agency({"type": "string"})
    new = copy.deepcopy(old)
    new["allOf"][0]["then"]["properties"]["agency"]["description"] = "The answering agency."
    new["allOf"][0]["else"]["description"] = "No agency for other kinds."
    assert breaking_changes(old, new) == []


def test_moving_properties_into_an_all_of_branch_is_not_breaking() -> None:
    old = {"type": "object", "required": ["a"],
           "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}}
    new = {"type": "object", "allOf": [
        {"required": ["a"], "properties": {"a": {"type": "string"}}},
        {"properties": {"b": {"type": "integer"}}},
    ]}
    assert breaking_changes(old, new) == []


def test_reordering_one_of_branches_is_not_breaking() -> None:
    old = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    new = {"oneOf": [{"type": "integer"}, {"type": "string"}]}
    assert breaking_changes(old, new) == []


def test_adding_an_any_of_branch_is_not_breaking() -> None:
    old = {"anyOf": [{"type": "string"}]}
    new = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert breaking_changes(old, new) == []


def test_removing_an_all_of_constraint_is_not_breaking() -> None:
    old = changed(lambda s: s.update(allOf=[{"properties": {"score": {"maximum": 3}}}]))
    assert breaking_changes(old, BASE) == []


def test_an_all_of_branch_the_old_schema_already_implied_is_not_breaking() -> None:
    new = changed(lambda s: s.update(allOf=[{"required": ["kind"]}]))
    assert breaking_changes(BASE, new) == []


def test_a_new_conditional_the_old_schema_already_satisfied_is_not_breaking() -> None:
    new = changed(lambda s: s.update({
        "if": {"properties": {"kind": {"const": "referral"}}},
        "then": {"required": ["children"]},
    }))
    assert breaking_changes(BASE, new) == []


def test_equal_numbers_and_values_compare_equal_whatever_their_spelling() -> None:
    assert breaking_changes({"enum": [1, True]}, {"enum": [True, 1.0]}) == []
    assert breaking_changes({"enum": [1]}, {"enum": [True]}) == ["$: enum value removed (1)"]
