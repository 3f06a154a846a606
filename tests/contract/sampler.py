"""Minimal valid JSON values for manifest schemas: arguments and replies for contract tests."""

from __future__ import annotations

from typing import Any

NULL = {"type": "null"}


def ref_target(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def sample(schema: Any, schemas: dict[str, Any], *, full: bool = False) -> Any:
    """A small value valid for ``schema``: required fields only, unless ``full``."""
    if schema is True or schema == {} or schema is None:
        return "any"
    schema = ref_target(schema, schemas)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            options = [o for o in schema[key] if o != NULL]
            return sample(options[0], schemas, full=full) if options else None
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next(k for k in kind if k != "null")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        required = set(schema.get("required") or [])
        return {
            name: sample(prop, schemas, full=full)
            for name, prop in props.items()
            if name in required or full or "const" in prop
        }
    if kind == "array":
        count = max(schema.get("minItems", 1), 1)
        return [sample(schema.get("items"), schemas, full=full) for _ in range(count)]
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date-time":
            return "2026-01-02T03:04:05Z"
        if fmt == "date":
            return "2026-01-02"
        return "s" * max(schema.get("minLength", 1), 1)
    if kind == "integer":
        return int(schema.get("minimum", 1)) if schema.get("minimum", 1) > 0 else 1
    if kind == "number":
        return float(schema.get("minimum", 1.5)) if schema.get("minimum", 1) > 0 else 1.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "any"
