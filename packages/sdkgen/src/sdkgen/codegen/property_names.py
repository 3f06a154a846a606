"""Python names of schema properties: a property's key is its name on the wire; ``x-py-name``
in its schema names the model attribute (and the method argument) where the wire name cannot be
one (``@type``, ``if-version``, ``2fa``) or should not be (``class``, ``schema``).

The generated model keeps the wire name as the field's alias (``Field(alias="@type")``); the
models validate by either name and the runtime sends and reads the wire name.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable, Collection, Iterator
from typing import Any

from pydantic import BaseModel

from .loader import Key
from .schema_walk import is_class_schema, iter_subschemas, properties_of, ref_name

__all__ = [
    "PY_NAME",
    "RESERVED_ATTRIBUTES",
    "attribute_problem",
    "check_discriminator_tag",
    "check_property_names",
    "field_aliases",
    "property_python_name",
    "python_names",
    "suggest_python_name",
]

Add = Callable[[Key, str], None]

PY_NAME = "x-py-name"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ATTRIBUTE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# Names a model attribute cannot take: pydantic's own (its methods and attributes, and its
# protected `model_validate*` / `model_dump*`) and the names the generated models module uses
# in its annotations and defaults (a field of that name would shadow them in its class).
_MODULE_NAMES = frozenset(
    {
        "Annotated", "Any", "BaseModel", "ConfigDict", "Field", "Literal", "NoReturn",
        "RootModel", "TypeAlias", "cast", "date", "datetime",
    }
)  # fmt: skip
RESERVED_ATTRIBUTES = frozenset(n for n in dir(BaseModel) if not n.startswith("_")) | _MODULE_NAMES


def attribute_problem(name: str) -> str | None:
    """Why ``name`` cannot be a model attribute (None when it can)."""
    if not _ATTRIBUTE.match(name):
        return "not a Python identifier starting with a letter"
    if keyword.iskeyword(name):
        return "a Python keyword"
    if name.startswith(("model_validate", "model_dump")) or name in RESERVED_ATTRIBUTES:
        return "reserved by pydantic or the generated models module"
    return None


def suggest_python_name(wire: str, taken: Collection[str] = ()) -> str:
    """A snake_case attribute name for ``wire`` (``@type`` -> ``at_type``, ``if-version`` ->
    ``if_version``, ``2fa`` -> ``field_2fa``, ``class`` -> ``class_``), not in ``taken``."""
    text = wire.replace("@", " at ").replace("$", " dollar ")
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", text)
    words = re.sub(r"[^A-Za-z0-9]+", " ", text).split()
    name = "_".join(w.lower() for w in words) or "field"
    if name[0].isdigit():
        name = f"field_{name}"
    if name.startswith(("model_validate", "model_dump")):
        name = f"field_{name}"
    while attribute_problem(name) is not None:
        name += "_"
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def property_python_name(wire: str, schema: Any) -> str:
    """The attribute name of a property: its ``x-py-name``, else its wire name."""
    name = schema.get(PY_NAME) if isinstance(schema, dict) else None
    return name if isinstance(name, str) else wire


def python_names(schema: Any) -> dict[str, str]:
    """A schema's properties: wire name -> Python name."""
    return {w: property_python_name(w, s) for w, s in properties_of(schema).items()}


def _misplaced(schema: dict[str, Any], path: Key) -> Iterator[Key]:
    """``x-py-name`` keys that are not on a property of ``schema`` itself (a class schema)."""
    own = {id(sub) for sub in properties_of(schema).values()}
    for sub, sub_path in iter_subschemas(schema, path):
        if PY_NAME in sub and id(sub) not in own:
            yield (*sub_path, PY_NAME)


def check_property_names(name: str, schema: dict[str, Any], path: Key, add: Add) -> None:
    """Every property of every (sub)schema has a usable Python name; explicit names are
    usable, distinct within their schema, and only on the properties of a named object schema
    (whose generated class has that schema's name)."""
    for key in _misplaced(schema, path):
        add(
            key,
            f"`{PY_NAME}` names a property of a named object schema (one under `schemas:`, with "
            "`type: object` and `properties`): move this object into a schema of its own and "
            "refer to it with `$ref`",
        )
    for sub, sub_path in iter_subschemas(schema, path):
        props = properties_of(sub)
        is_class = sub is schema and is_class_schema(schema)
        owners: dict[str, list[str]] = {}
        for wire, prop in props.items():
            ppath = (*sub_path, "properties", wire)
            explicit = prop.get(PY_NAME) if isinstance(prop, dict) else None
            if explicit is not None and not isinstance(explicit, str):
                add((*ppath, PY_NAME), f"`{PY_NAME}` is a string (the attribute's name)")
                continue
            if isinstance(explicit, str):
                problem = attribute_problem(explicit)
                if problem is not None:
                    add((*ppath, PY_NAME), f"`{PY_NAME}: {explicit}` is {problem}: pick another")
                    continue
            elif not _IDENT.match(wire):
                fix = f"add `{PY_NAME}: {suggest_python_name(wire)}` to its schema"
                where = "" if is_class else " and move this object into a named schema"
                add(
                    ppath,
                    f"property name `{wire}` is not a Python identifier: keep it as the wire "
                    f"name and {fix}{where} (the model attribute's name)",
                )
                continue
            owners.setdefault(property_python_name(wire, prop), []).append(wire)
        for py, wires in owners.items():
            if len(wires) < 2:
                continue
            for wire in wires:
                if property_python_name(wire, props[wire]) != wire:
                    others = ", ".join(f"`{w}`" for w in wires if w != wire)
                    add(
                        (*sub_path, "properties", wire, PY_NAME),
                        f"Python name `{py}` is also property {others}'s in schema `{name}`: "
                        f"give one of them another `{PY_NAME}`",
                    )


def field_aliases(schemas: dict[str, dict[str, Any]]) -> dict[str, str]:
    """datamodel-code-generator's ``aliases`` option: ``Class.wire`` -> the Python name, for
    every property that has an ``x-py-name``."""
    out: dict[str, str] = {}
    for name, schema in schemas.items():
        if not is_class_schema(schema):
            continue
        for wire, prop in properties_of(schema).items():
            py = prop.get(PY_NAME) if isinstance(prop, dict) else None
            if isinstance(py, str):
                out[f"{name}.{wire}"] = py
    return out


def check_discriminator_tag(
    schemas: dict[str, dict[str, Any]], union: dict[str, Any], path: Key, add: Add
) -> None:
    """The models pick a union's member by its tag's attribute, which the model generator names
    on its own: the tag property keeps its wire name (no ``x-py-name`` in any member)."""
    discriminator = union.get("discriminator")
    tag = discriminator.get("propertyName") if isinstance(discriminator, dict) else None
    if not isinstance(tag, str):
        return  # reported by the discriminator's own check
    members = union.get("oneOf")
    for member in members if isinstance(members, list) else []:
        target = member
        if isinstance(member, dict) and "$ref" in member:
            target = schemas.get(ref_name(member["$ref"]) or "")
        prop = properties_of(target).get(tag)
        if isinstance(prop, dict) and PY_NAME in prop:
            add(
                path,
                f"the discriminator property `{tag}` has an `{PY_NAME}` in a member; a union's "
                f"tag keeps its wire name as its attribute: remove that `{PY_NAME}`",
            )
            return
