"""Enums in the generated models: referenced by name, and open where the server's data is read.

A newer server may send an enum value this SDK does not know yet. In a model the server sends
(a response, a future's result, a stream event, or anything they contain) such a value is kept
as a plain value (``StopReason | str``) instead of failing validation; known values are the same
strings and still compare equal. Models that only requests use keep their enums closed, so a
typo is still refused before sending. A schema's ``open: true|false`` overrides the default.

datamodel-code-generator inlines every non-class schema, so an enum is handed to it as a
one-value placeholder ``Literal`` that :meth:`EnumTypes.substitute` then replaces with the
real annotation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from .loader import Key
from .schema_walk import iter_subschemas

__all__ = [
    "EnumTypes",
    "base_types",
    "check_open",
    "discriminator_properties",
    "is_enum_schema",
    "literal",
    "open_annotation",
]

# Keys of an enum schema that say something about its values; others (description, default)
# stay on the node that uses it.
_ENUM_KEYS = frozenset({"enum", "type", "open"})
_PLACEHOLDER = re.compile(r"""Literal\[(?:"|')__enum_(\d+)__(?:"|')\]""")


def literal(values: list[Any]) -> str:
    """``Literal[...]`` of scalar values, written as the generated code spells them."""
    return (
        "Literal["
        + ", ".join(json.dumps(v) if isinstance(v, str) else repr(v) for v in values)
        + "]"
    )


def base_types(values: list[Any]) -> list[str]:
    """The plain types an open enum's unknown values may have (``str`` for string values)."""
    names: list[str] = []
    for value in values:
        if value is None:
            continue
        name = type(value).__name__
        if name not in names:
            names.append(name)
    return names


def open_annotation(closed: str, values: list[Any]) -> str:
    """``closed`` widened to any value of the enum's base types: ``Color | str``."""
    return " | ".join([closed, *base_types(values)])


def discriminator_properties(schemas: Mapping[str, Any]) -> frozenset[str]:
    """Property names used as a union's discriminator: pydantic needs them to stay Literal."""
    names: set[str] = set()
    for schema in schemas.values():
        for sub, _ in iter_subschemas(schema, ()):
            prop = (sub.get("discriminator") or {}).get("propertyName")
            if isinstance(prop, str):
                names.add(prop)
    return frozenset(names)


def is_enum_schema(schema: Any) -> bool:
    """A named schema that is only an enum (its references become the alias's name)."""
    return isinstance(schema, dict) and "enum" in schema and not ({"anyOf", "oneOf"} & set(schema))


class EnumTypes:
    """Placeholders for enums in the schemas handed to datamodel-code-generator."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        self.schemas = schemas
        self.annotations: list[str] = []

    def _placeholder(self, annotation: str) -> str:
        self.annotations.append(annotation)
        return f"__enum_{len(self.annotations) - 1}__"

    def named(self, name: str, node: Mapping[str, Any], *, open_: bool) -> dict[str, Any]:
        """A ``$ref`` to the enum schema ``name``: the alias's name, widened when open.

        An enum that says ``open: true`` has an open alias already; ``open: false`` never opens.
        """
        schema = self.schemas[name]
        flag = schema.get("open")
        widen = open_ and flag is None
        annotation = open_annotation(name, schema["enum"]) if widen else name
        rest = {k: v for k, v in schema.items() if k not in _ENUM_KEYS}
        rest.update({k: v for k, v in node.items() if k != "$ref"})
        return {**rest, "enum": [self._placeholder(annotation)]}

    def inline(self, node: Mapping[str, Any], *, open_: bool) -> dict[str, Any] | None:
        """An enum written in place: a placeholder when open, None to leave it as it is."""
        flag = node.get("open")
        if not (flag is True or (open_ and flag is None)):
            return {k: v for k, v in node.items() if k != "open"} if "open" in node else None
        values = list(node["enum"])
        rest = {k: v for k, v in node.items() if k not in _ENUM_KEYS}
        return {**rest, "enum": [self._placeholder(open_annotation(literal(values), values))]}

    def substitute(self, code: str) -> str:
        """Replace every placeholder ``Literal`` in the generated code with its annotation."""
        # The code is not formatted yet: the quotes may be either kind.
        return _PLACEHOLDER.sub(lambda m: self.annotations[int(m.group(1))], code)


def check_open(schema: Mapping[str, Any], path: Key, add: Callable[[Key, str], None]) -> None:
    """`open` is a boolean on an enum: say `open: true|false` next to `enum`."""
    if "open" not in schema:
        return
    if not isinstance(schema["open"], bool):
        add((*path, "open"), "`open` must be true or false")
    elif "enum" not in schema:
        add((*path, "open"), "`open` applies to an `enum`: put it next to the enum's values")
