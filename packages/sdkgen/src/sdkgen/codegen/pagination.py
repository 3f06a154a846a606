"""The `paginate:` key: which keys each style takes, that they name real query parameters and
response fields (with file:line problems), and the iterator's item type and spec source."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .loader import Key
from .manifest import Endpoint, Paginate
from .schema_walk import properties_of, ref_name

__all__ = ["check_paginate", "field_at", "paginate_spec_source"]

Add = Callable[[Key, str], None]

# style -> (keys it requires, keys it accepts besides `items` and `style`).
_STYLE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "offset": (("limit", "offset"), ("total",)),
    "page": (("page",), ("limit",)),
    "cursor": (("cursor", "next"), ("limit",)),
    "link": ((), ("limit",)),
}
_PARAMS = ("limit", "offset", "page", "cursor")  # keys naming a query parameter
_INTEGER_PARAMS = ("limit", "offset", "page")  # counted by the runtime: integers only
_OPTIONAL = ("limit", "offset", "total", "page", "cursor", "next")


def field_at(schemas: Mapping[str, Any], schema: Any, dotted: str) -> Any:
    """The schema at a dotted path of properties, following `$ref`s (None where it breaks off).

    Example: ``field_at(m.schemas, m.schemas["Page"], "data.items")``
    """
    for part in dotted.split("."):
        while isinstance(schema, dict) and ref_name(schema.get("$ref")) in schemas:
            schema = schemas[ref_name(schema["$ref"]) or ""]
        schema = properties_of(schema).get(part)
        if schema is None:
            return None
    while isinstance(schema, dict) and ref_name(schema.get("$ref")) in schemas:
        schema = schemas[ref_name(schema["$ref"]) or ""]
    return schema


def check_paginate(
    schemas: Mapping[str, Any], ep: Endpoint, response: Any, path: Key, add: Add
) -> None:
    """Report every problem of ``ep.paginate`` (``response``: the response schema, or None)."""
    p = ep.paginate
    if p is None:
        return
    here = (*path, "paginate")
    required, accepted = _STYLE_KEYS[p.kind]
    for key in _OPTIONAL:
        given = getattr(p, key) is not None
        if key in required and not given:
            add((*here, "style") if p.style else here, f"style `{p.kind}` needs `{key}`")
        elif given and key not in required and key not in accepted:
            add((*here, key), f"`{key}` is not a key of style `{p.kind}`; remove it")
    for key in _PARAMS:
        name = getattr(p, key)
        if name is None:
            continue
        param = ep.query.get(name)
        if param is None or param.location != "query":
            add((*here, key), f"`{name}` is not a query parameter")
        elif p.style and key in _INTEGER_PARAMS and param.schema_.get("type") != "integer":
            add((*here, key), f"`{name}` counts pages or items: give it `type: integer`")
    if response is None:
        return
    items = field_at(schemas, response, p.items)
    if items is None:
        add((*here, "items"), f"`{p.items}` is not a field of `{ep.response}`")
    elif p.style and items.get("type") != "array":
        add((*here, "items"), f"`{p.items}` of `{ep.response}` is not an array")
    for key in ("total", "next"):
        dotted = getattr(p, key)
        if dotted is not None and p.style and field_at(schemas, response, dotted) is None:
            add((*here, key), f"`{dotted}` is not a field of `{ep.response}`")


def paginate_spec_source(p: Paginate) -> str:
    """The ``PaginateSpec(...)`` expression of the endpoints module; an offset listing written
    before `style` existed keeps its exact old text."""
    if p.style is None:
        return (
            f"PaginateSpec(items={p.items!r}, limit={p.limit!r}, offset={p.offset!r}, "
            f"total={p.total!r})"
        )
    args = [f"items={p.items!r}", f"style={p.style!r}"]
    args += [f"{k}={getattr(p, k)!r}" for k in _OPTIONAL if getattr(p, k) is not None]
    return f"PaginateSpec({', '.join(args)})"
