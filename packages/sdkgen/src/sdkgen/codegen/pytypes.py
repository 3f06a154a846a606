"""JSON Schema -> Python type annotations, for signatures and for aliases of named schemas.

Named object schemas are classes in the generated ``models`` module; every other named schema
(enum, union, alias) gets a ``TypeAlias`` there, so ``models.<Name>`` always exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .enums import literal, open_annotation
from .schema_walk import is_class_schema, ref_name

__all__ = ["TypeMapper", "is_class_schema"]


_CONSTRAINTS = {
    "minimum": "ge",
    "maximum": "le",
    "exclusiveMinimum": "gt",
    "exclusiveMaximum": "lt",
    "minLength": "min_length",
    "maxLength": "max_length",
    "minItems": "min_length",
    "maxItems": "max_length",
    "pattern": "pattern",
}


_literal = literal


class TypeMapper:
    """Maps schemas to annotation strings; ``prefix`` qualifies named schemas (``models.``)."""

    def __init__(self, schemas: Mapping[str, Mapping[str, Any]], prefix: str = "models.") -> None:
        self.schemas = schemas
        self.prefix = prefix

    def named(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def annotation(self, schema: Mapping[str, Any] | bool | None) -> str:
        if schema is None or schema is True or schema == {}:
            return "Any"
        if schema is False:
            return "NoReturn"
        assert isinstance(schema, Mapping)
        if "$ref" in schema:
            return self.named(ref_name(schema["$ref"]) or "Any")
        if "const" in schema:
            return _literal([schema["const"]])
        if "enum" in schema:
            values = list(schema["enum"])
            # `open: true`: the API accepts and sends values beyond the listed ones (enums.py).
            if schema.get("open") is True:
                return open_annotation(_literal(values), values)
            return _literal(values)
        for key in ("anyOf", "oneOf"):
            if key in schema:
                parts = self._union(schema[key])
                union = " | ".join(parts)
                prop = (schema.get("discriminator") or {}).get("propertyName")
                if prop and key == "oneOf" and len(parts) > 1:
                    return f"Annotated[{union}, Field(discriminator={json.dumps(prop)})]"
                return union
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self._union([{"type": k} for k in kind]))
        if kind == "string":
            fmt = schema.get("format")
            if fmt == "date-time":
                return "datetime"
            if fmt == "date":
                return "date"
            return "str"
        if kind == "integer":
            return "int"
        if kind == "number":
            return "float"
        if kind == "boolean":
            return "bool"
        if kind == "null":
            return "None"
        if kind == "array":
            return f"list[{self.annotation(schema.get('items'))}]"
        if kind == "object":
            extra = schema.get("additionalProperties", True)
            return f"dict[str, {self.annotation(extra)}]"
        return "Any"

    def constrained(self, schema: Mapping[str, Any]) -> str:
        """Like :meth:`annotation`, keeping the schema's limits as ``Field`` constraints."""
        base = self.annotation(schema)
        limits = [f"{arg}={schema[key]!r}" for key, arg in _CONSTRAINTS.items() if key in schema]
        if not limits:
            return base
        return f"Annotated[{base}, Field({', '.join(limits)})]"

    def _parts(self, schema: Any) -> list[str]:
        """The members of a union as separate annotations (one member for a non-union)."""
        if isinstance(schema, Mapping):
            discriminated = bool(schema.get("discriminator"))
            for key in ("anyOf", "oneOf"):
                if key in schema and not (discriminated and key == "oneOf"):
                    return self._union(schema[key])
            if isinstance(schema.get("type"), list):
                return self._union([{"type": k} for k in schema["type"]])
        return [self.annotation(schema)]

    def _union(self, options: list[Any]) -> list[str]:
        parts: list[str] = []
        for option in options:
            for part in self._parts(option):
                if part not in parts:
                    parts.append(part)
        if "None" in parts:  # keep ``X | None`` in the conventional order
            parts.remove("None")
            parts.append("None")
        return parts
