"""`body: form` endpoints: what their request schema may hold.

An `application/x-www-form-urlencoded` body is flat: each field is one value (string, number,
integer, boolean, enum) or a list of such values, sent as the key repeated. Nested objects have
no standard form encoding, so the generator refuses them rather than guess one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .loader import Key
from .manifest import Endpoint
from .schema_walk import properties_of, ref_name

__all__ = ["FORM_CONTENT_TYPE", "check_form_body", "is_flat"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_SCALARS = frozenset({"string", "number", "integer", "boolean", "null"})


def _resolve(schemas: Mapping[str, Any], schema: Any) -> Any:
    seen: set[str] = set()
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        name = ref_name(schema["$ref"])
        if name is None or name in seen:
            return None
        seen.add(name)
        schema = schemas.get(name)
    return schema


def _is_scalar(schemas: Mapping[str, Any], schema: Any) -> bool:
    schema = _resolve(schemas, schema)
    if not isinstance(schema, dict):
        return False
    if "enum" in schema or "const" in schema:
        return True
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return all(_is_scalar(schemas, sub) for sub in schema[key])
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    return bool(kinds) and all(k in _SCALARS for k in kinds)


def is_flat(schemas: Mapping[str, Any], schema: Any) -> bool:
    """One value (string, number, integer, boolean, enum; `$ref`s followed) or a list of them."""
    resolved = _resolve(schemas, schema)
    if isinstance(resolved, dict) and resolved.get("type") == "array":
        return _is_scalar(schemas, resolved.get("items"))
    return _is_scalar(schemas, resolved)


def check_form_body(
    schemas: Mapping[str, Any],
    ep: Endpoint,
    request: Any,
    path: Key,
    add: Callable[[Key, str], None],
) -> None:
    """Report, through ``add(path, message)``, a `body: form` endpoint without a `request:`
    schema or with a field that cannot be form-encoded (an object, a list of objects).

    Example::

        check_form_body(manifest.schemas, ep, request_schema, path, problems.add)
    """
    if ep.body != "form":
        return
    if ep.request is None:
        add((*path, "body"), "a `body: form` endpoint needs a `request:` schema (its fields)")
        return
    if ep.content_type is not None:
        add((*path, "content_type"), f"a `body: form` endpoint is always `{FORM_CONTENT_TYPE}`")
    for name, prop in properties_of(request).items():
        if not is_flat(schemas, prop):
            add(
                (*path, "request"),
                f"field `{name}` of `{ep.request}` cannot be form-encoded: a form field is one "
                "value (string, number, integer, boolean, enum) or a list of them; use "
                "`body: json` or flatten the field",
            )
