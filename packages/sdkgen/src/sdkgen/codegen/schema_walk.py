"""Walking a manifest schema: its nested subschemas, its `$ref`s, whether it is a class."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .loader import Key

__all__ = ["is_class_schema", "iter_refs", "iter_subschemas", "properties_of", "ref_name"]

_SUBSCHEMA_MAPS = ("properties",)
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf")
_SUBSCHEMA_ONE = ("items", "additionalProperties")
_REF = re.compile(r"^#/schemas/([A-Za-z_][A-Za-z0-9_]*)$")


def is_class_schema(schema: Any) -> bool:
    """An object schema with properties: a class in the generated models (others are aliases)."""
    return isinstance(schema, dict) and schema.get("type") == "object" and "properties" in schema


def ref_name(ref: Any) -> str | None:
    """``Name`` of a ``#/schemas/Name`` reference (None for anything else)."""
    match = _REF.match(ref) if isinstance(ref, str) else None
    return match.group(1) if match else None


def properties_of(schema: Any) -> dict[str, Any]:
    """The ``properties`` of a schema, or {} when it has none or they have the wrong shape (the
    JSON Schema check reports that)."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def iter_subschemas(schema: Any, path: Key) -> Iterator[tuple[dict[str, Any], Key]]:
    """Every schema object nested in ``schema`` (itself included), with its key path."""
    if not isinstance(schema, dict):
        return
    yield schema, path
    # A wrong shape (`properties: [a]`) is skipped here and reported by the JSON Schema check.
    for key in _SUBSCHEMA_MAPS:
        subs = schema.get(key)
        for name, sub in subs.items() if isinstance(subs, dict) else ():
            yield from iter_subschemas(sub, (*path, key, name))
    for key in _SUBSCHEMA_LISTS:
        subs = schema.get(key)
        for i, sub in enumerate(subs) if isinstance(subs, list) else ():
            yield from iter_subschemas(sub, (*path, key, i))
    for key in _SUBSCHEMA_ONE:
        if isinstance(schema.get(key), dict):
            yield from iter_subschemas(schema[key], (*path, key))


def iter_refs(schema: Any, path: Key) -> Iterator[tuple[str, Key]]:
    for sub, sub_path in iter_subschemas(schema, path):
        if "$ref" in sub:
            yield sub["$ref"], (*sub_path, "$ref")
