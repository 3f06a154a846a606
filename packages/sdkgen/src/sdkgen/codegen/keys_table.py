"""Every key the manifest loader accepts, with its type and default, as Markdown tables.

The manifest format's documentation carries this output between two markers, and a test renders
it again and compares: the reference cannot fall behind the loader (a key added to
``manifest.py`` and not documented fails the kit's tests).
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from .manifest import Manifest

__all__ = ["BEGIN", "END", "keys_tables", "splice"]

BEGIN = "<!-- keys:begin (written by sdkgen.codegen.keys_table; do not edit by hand) -->"
END = "<!-- keys:end -->"

# Where a mapping's keys are names the manifest chooses, the path shows a placeholder.
_NAMES = {
    "retry_policies": "<policy>",
    "pools": "<pool>",
    "circuit_breakers": "<breaker>",
    "resources": "<resource>",
    "endpoints": "<endpoint>",
    "path_params": "<param>",
    "query": "<param>",
}


def _type(tp: Any) -> str:
    """A short, reader-facing name of a field's type."""
    origin = get_origin(tp)
    if tp is type(None):
        return "null"
    if tp is Any:
        return "any"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping"
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if tp in simple:
        return simple[tp]
    if origin is Literal:
        return " \\| ".join(
            f"`{json.dumps(v)}`" if not isinstance(v, str) else f"`{v}`" for v in get_args(tp)
        )
    if origin in (Union, types.UnionType):
        return " \\| ".join(_type(a) for a in get_args(tp))
    if origin is list:
        (item,) = get_args(tp)
        return f"list of {_type(item)}"
    if origin is dict:
        _, value = get_args(tp)
        return f"mapping of names to {_type(value)}"
    return getattr(tp, "__name__", str(tp))


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()
        if isinstance(value, BaseModel):
            return "(the defaults below)"
    else:
        value = field.default
    if value is PydanticUndefined or value is None:
        return "none"
    return f"`{json.dumps(value)}`"


def _models(tp: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models a field's type holds: ``("", M)`` directly, ``("name", M)`` under names."""
    origin = get_origin(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield "", tp
    elif origin in (Union, types.UnionType, list):
        for arg in get_args(tp):
            yield from _models(arg)
    elif origin is dict:
        for _, model in _models(get_args(tp)[1]):
            yield "name", model


def _sections(model: type[BaseModel], path: str) -> Iterator[tuple[str, type[BaseModel]]]:
    yield path, model
    for name, field in model.model_fields.items():
        key = field.alias or name
        seen: set[type[BaseModel]] = set()
        for how, sub in _models(field.annotation):
            if sub in seen:
                continue
            seen.add(sub)
            child = f"{path}.{key}" if path else key
            if how == "name":
                child += "." + _NAMES.get(key, "<name>")
            yield from _sections(sub, child)


def keys_tables() -> str:
    """Markdown: one table per place in a manifest, every key with its type and default.

    Example::

        print(keys_tables())  # "#### `api`\\n\\n| key | type | default |\\n..."
    """
    parts: list[str] = []
    for path, model in _sections(Manifest, ""):
        rows = ["| key | type | default |", "|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            rows.append(f"| `{key}` | {_type(field.annotation)} | {_default(field)} |")
        title = f"`{path}`" if path else "the top level"
        parts.append(f"#### {title}\n\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def splice(document: str) -> str:
    """``document`` with the text between ``BEGIN`` and ``END`` replaced by ``keys_tables()``.

    Example::

        text = splice(Path("docs/manifest-format.md").read_text())
    """
    head, found, rest = document.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"the document has no {BEGIN!r} ... {END!r} block")
    return f"{head}{BEGIN}\n\n{keys_tables()}\n{END}{tail}"
