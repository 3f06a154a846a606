"""OpenAPI 3.0 / 3.1 schemas as manifest schemas (the JSON Schema subset of
docs/manifest-format.md).

What changes on the way: ``#/components/schemas/X`` references become ``#/schemas/X`` (with X
made a CamelCase class name); 3.0's ``nullable: true`` and 3.1's ``type: [x, "null"]`` become
``anyOf: [x, {type: "null"}]``; an ``allOf`` of object schemas becomes one object (its
properties and ``required`` merged), a one-member ``allOf`` of a reference becomes the
reference; 3.0's boolean ``exclusiveMinimum`` becomes 2020-12's number; ``example`` becomes
``examples``. Keywords the manifest does not have are left out and counted in a note.
"""

from __future__ import annotations

import copy
import keyword
import re
from typing import Any
from urllib.parse import unquote

from ..loader import Key
from ..patterns import pattern_problem
from ..property_names import PY_NAME, attribute_problem, suggest_python_name
from ..schema_walk import is_class_schema, iter_subschemas, properties_of
from .context import Context
from .names import camel, unique

__all__ = ["RESERVED_SCHEMA_NAMES", "SchemaTranslator"]

# Names the generated models module has for itself (imports and its own base class).
RESERVED_SCHEMA_NAMES = frozenset(
    {
        "Any", "Annotated", "BaseModel", "ConfigDict", "Field", "Literal", "NoReturn",
        "RootModel", "TypeAlias", "None", "True", "False",
    }
)  # fmt: skip
_COPY = (
    "title", "description", "enum", "const", "default", "minimum", "maximum", "minLength",
    "maxLength", "minItems", "maxItems", "uniqueItems", "deprecated", "examples",
)  # fmt: skip
# Kept outside the `anyOf` a nullable schema becomes: they describe the whole value.
_OUTER = ("title", "description", "default", "deprecated", "examples")
_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
# The formats the manifest gives a meaning of their own (`binary`: a multipart file field).
_FORMATS = frozenset({"date-time", "date", "binary"})
# Documentation only: left out without a note.
_SILENT = frozenset(
    {
        "readOnly", "writeOnly", "xml", "externalDocs", "$comment", "$schema", "$id",
        "contentMediaType", "contentEncoding", "format", "nullable",
    }
)  # fmt: skip
_HANDLED = frozenset(
    {
        "type", "properties", "required", "items", "additionalProperties", "anyOf", "oneOf",
        "allOf", "discriminator", "$ref", "example", "exclusiveMinimum", "exclusiveMaximum",
        "pattern", *_COPY,
    }
)  # fmt: skip
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_COMPONENT_REF = "#/components/schemas/"


def _pointer_part(text: str) -> str:
    return unquote(text).replace("~1", "/").replace("~0", "~")


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


class SchemaTranslator:
    """Translates the document's component schemas (once each) and inline schemas."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        components = ctx.doc.data.get("components")
        schemas = components.get("schemas") if isinstance(components, dict) else None
        self.components: dict[str, Any] = schemas if isinstance(schemas, dict) else {}
        taken: set[str] = set()
        for raw in self.components:
            name = camel(raw)
            if name in RESERVED_SCHEMA_NAMES or keyword.iskeyword(name):
                name += "Model"
            ctx.schema_names[raw] = unique(name, taken)
        self.taken = taken
        self.done: dict[str, dict[str, Any]] = {}
        self.busy: set[str] = set()  # components being translated (a cycle is not flattened)
        self.pointers: set[str] = set()  # local references being inlined
        # Properties given an `x-py-name` (by identity; kept alive, so that no id is reused) ->
        # the property and where the document has it.
        self.renamed: dict[int, tuple[dict[str, Any], Key]] = {}

    def new_name(self, name: str) -> str:
        """A fresh schema name for an inline schema (``CreateNoteRequest``)."""
        return unique(camel(name), self.taken)

    def all_components(self) -> dict[str, dict[str, Any]]:
        """Every component schema, under its manifest name, in the document's order."""
        return {self.ctx.schema_names[raw]: self.component(raw) for raw in self.components}

    def component(self, raw: str) -> dict[str, Any]:
        if raw not in self.done:
            self.busy.add(raw)
            name = self.ctx.schema_names[raw]
            self.done[raw] = self.translate(
                self.components[raw], ("components", "schemas", raw), ("schemas", name)
            )
            self.busy.discard(raw)
        return self.done[raw]

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """A translated schema with a component reference followed (None: being translated)."""
        ref = schema.get("$ref")
        if not isinstance(ref, str):
            return schema
        raw = next((r for r, n in self.ctx.schema_names.items() if ref == f"#/schemas/{n}"), None)
        if raw is None or raw in self.busy:
            return None
        return self.component(raw)

    # -- one schema ------------------------------------------------------------------------

    def translate(self, node: Any, src: Key, out: Key) -> dict[str, Any]:
        """The manifest form of the document's schema ``node`` (at ``src``), to be put at
        ``out`` (both paths are for positions)."""
        self.ctx.mark(out, src)
        if isinstance(node, bool):
            if not node:
                self.ctx.note(src, "the schema `false` (no value) is written as `{}` (any value)")
            return {}
        if not isinstance(node, dict):
            self.ctx.fail(src, "a schema is a mapping (or true/false)")
            return {}
        if "$ref" in node:
            return self.reference(node, src, out)
        node = dict(node)
        nullable = node.get("nullable") is True
        kind = node.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"]
            nullable = nullable or "null" in kind
            if len(kinds) > 1:
                rest = {k: v for k, v in node.items() if k not in _OUTER and k != "type"}
                outer = {k: node[k] for k in _OUTER if k in node}
                members = [{**rest, "type": k} for k in kinds] + ([{"type": "null"}] * nullable)
                node, nullable = {"anyOf": members, **outer}, False
            else:
                node["type"] = kinds[0] if kinds else "null"
                nullable = nullable and bool(kinds)
        if nullable and set(node) - {*_OUTER, "nullable"}:
            outer = {k: node.pop(k) for k in _OUTER if k in node}
            node.pop("nullable", None)
            base = self.translate(node, src, (*out, "anyOf", 0))
            return {"anyOf": [base, {"type": "null"}], **outer}
        if "allOf" in node:
            merged = self.all_of(node, src, out)
            if merged is not None:
                return merged
        return self.plain(node, src, out)

    def reference(self, node: dict[str, Any], src: Key, out: Key) -> dict[str, Any]:
        ref = node["$ref"]
        siblings: dict[str, Any] = {
            k: node[k] for k in ("description", "default", "title") if k in node
        }
        if not isinstance(ref, str) or not ref.startswith("#/"):
            self.ctx.fail(
                (*src, "$ref"),
                f"reference {ref!r} points outside this document: bundle the document into one "
                "file first (for example with `redocly bundle`)",
            )
            return {}
        if ref.startswith(_COMPONENT_REF) and "/" not in ref[len(_COMPONENT_REF) :]:
            raw = _pointer_part(ref[len(_COMPONENT_REF) :])
            if raw not in self.ctx.schema_names:
                self.ctx.fail((*src, "$ref"), f"unknown schema `{raw}` in {ref!r}")
                return {}
            return {"$ref": f"#/schemas/{self.ctx.schema_names[raw]}", **siblings}
        # Any other local reference (a property of a component, a parameter's schema): inlined.
        if ref in self.pointers:
            self.ctx.fail((*src, "$ref"), f"reference {ref!r} contains itself")
            return {}
        target, target_src = self.follow(ref, src)
        if target_src is None:
            return {}
        self.pointers.add(ref)
        try:
            return {**self.translate(target, target_src, out), **siblings}
        finally:
            self.pointers.discard(ref)

    def follow(self, ref: str, src: Key) -> tuple[Any, Key | None]:
        """The document node a local reference names, and its key path."""
        node: Any = self.ctx.doc.data
        path: list[str | int] = []
        for part in ref[2:].split("/"):
            key = _pointer_part(part)
            if isinstance(node, dict) and key in node:
                node, path = node[key], [*path, key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node, path = node[int(key)], [*path, int(key)]
            else:
                self.ctx.fail((*src, "$ref"), f"reference {ref!r} names nothing in the document")
                return None, None
        return node, tuple(path)

    def all_of(self, node: dict[str, Any], src: Key, out: Key) -> dict[str, Any] | None:
        """One schema for an ``allOf`` whose members are all objects; None to keep ``allOf``."""
        members = node["allOf"]
        if not isinstance(members, list) or not members:
            return None
        rest = {k: v for k, v in node.items() if k != "allOf"}
        first = members[0]
        # `allOf: [{$ref}]` with a description: the 3.0 way to describe a reference.
        single = len(members) == 1 and isinstance(first, dict) and "$ref" in first
        if single and not set(rest) - {*_OUTER, "type"}:
            ref = self.reference(first, (*src, "allOf", 0), out)
            return {**ref, **{k: v for k, v in rest.items() if k in _OUTER}}
        parts = [
            self.translate(m, (*src, "allOf", i), (*out, "allOf", i)) for i, m in enumerate(members)
        ]
        if rest.get("properties") or rest.get("type") == "object":
            parts.append(self.plain(rest, src, out))
        resolved = [self.resolve(p) for p in parts]
        objects = [
            r
            for r in resolved
            if r is not None
            and r.get("type") == "object"
            and not {"anyOf", "oneOf", "allOf"} & set(r)
        ]
        if len(objects) != len(parts):
            return None
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        required: list[str] = []
        for part in objects:
            # Copies: a later change to one schema (an overlay's) must not reach the other.
            memo: dict[int, Any] = {}
            merged["properties"].update(copy.deepcopy(part.get("properties", {}), memo))
            for original, (_, src_key) in list(self.renamed.items()):
                if original in memo:  # a copied property is noted where the document has it
                    self.renamed[id(memo[original])] = (memo[original], src_key)
            required += [r for r in part.get("required", []) if r not in required]
        if required:
            merged["required"] = required
        for key in _OUTER:
            if key in rest:
                merged[key] = rest[key]
        if "additionalProperties" in rest:
            merged["additionalProperties"] = self.translate(
                rest["additionalProperties"], (*src, "additionalProperties"), out
            )
        for prop in merged["properties"]:
            self.ctx.mark((*out, "properties", prop), (*src, "allOf"))
        return merged

    def plain(self, node: dict[str, Any], src: Key, out: Key) -> dict[str, Any]:
        result: dict[str, Any] = {}
        kind = node.get("type")
        if isinstance(kind, str) and kind in _TYPES:
            result["type"] = kind
        elif kind is not None:
            self.ctx.fail((*src, "type"), f"unknown type {kind!r}")
        if node.get("format") in _FORMATS and kind == "string":
            result["format"] = node["format"]
        for key in _COPY:
            if key in node:
                result[key] = node[key]
        if "example" in node and "examples" not in node:
            result["examples"] = [node["example"]]
        for key, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            value = node.get(key)
            if value is True and limit in result:
                result[key] = result.pop(limit)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                result[key] = value
        self.values(result, src)
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern_problem(pattern) is None:
            result["pattern"] = pattern
        elif pattern is not None:
            self.ctx.note(
                (*src, "pattern"), "pattern left out: the models' regex engine cannot use it"
            )
        props = node.get("properties")
        if isinstance(props, dict):
            kept: dict[str, Any] = {}
            taken = {str(n) for n in props if attribute_problem(str(n)) is None}
            taken |= {
                p[PY_NAME]
                for p in props.values()
                if isinstance(p, dict) and isinstance(p.get(PY_NAME), str)
            }
            for name, sub in props.items():
                prop = self.translate(sub, (*src, "properties", name), (*out, "properties", name))
                given = sub.get(PY_NAME) if isinstance(sub, dict) else None
                if isinstance(given, str):  # the document's own (an `x-` keyword of OpenAPI)
                    prop = {**prop, PY_NAME: given}
                    self.renamed[id(prop)] = (prop, (*src, "properties", name))
                elif attribute_problem(name) is not None:
                    # Written out, so that the manifest shows (and may change) the Python name.
                    py = suggest_python_name(name, taken)
                    taken.add(py)
                    prop = {**prop, PY_NAME: py}
                    self.renamed[id(prop)] = (prop, (*src, "properties", name))
                kept[name] = prop
            result["properties"] = kept
            result.setdefault("type", "object")
            req = node.get("required")
            if isinstance(req, list):
                result["required"] = [r for r in req if isinstance(r, str) and r in kept]
                if not result["required"]:
                    del result["required"]
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                result[key] = self.translate(node[key], (*src, key), (*out, key))
            elif isinstance(node.get(key), bool):
                result[key] = node[key]
        for key in ("anyOf", "oneOf", "allOf"):
            members = node.get(key)
            if isinstance(members, list) and members:
                result[key] = [
                    self.translate(m, (*src, key, i), (*out, key, i)) for i, m in enumerate(members)
                ]
        discriminator = node.get("discriminator")
        if isinstance(discriminator, dict) and "oneOf" in result:
            result["discriminator"] = self.discriminator(discriminator)
        for key in node:
            if key not in _HANDLED and key not in _SILENT and not key.startswith("x-"):
                self.ctx.drop(key, (*src, key))
        for key in result:
            if key in node:  # a problem with the value points at the document's key
                self.ctx.mark((*out, key), (*src, key))
        return result

    def values(self, result: dict[str, Any], src: Key) -> None:
        """``enum`` and ``const`` values become Literal types: scalars only."""
        enum = result.get("enum")
        if isinstance(enum, list) and (not enum or not all(_scalar(v) for v in enum)):
            self.ctx.note((*src, "enum"), "enum left out: its values are not all scalars")
            del result["enum"]
        if "const" in result and not _scalar(result["const"]):
            self.ctx.note((*src, "const"), "const left out: it is not a scalar")
            del result["const"]

    def discriminator(self, value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"propertyName": value.get("propertyName")}
        mapping = value.get("mapping")
        if isinstance(mapping, dict):
            rewritten = {}
            for tag, target in mapping.items():
                raw = str(target).removeprefix(_COMPONENT_REF)
                if raw in self.ctx.schema_names:
                    rewritten[tag] = f"#/schemas/{self.ctx.schema_names[raw]}"
            out["mapping"] = rewritten
        return out

    def settle_names(self, schemas: dict[str, dict[str, Any]]) -> None:
        """``x-py-name`` stays only on the properties of named object schemas (the manifest
        has it nowhere else): elsewhere a property that needs one is left out, with a note,
        and one that only would have had one (``class``) keeps its generated name."""
        for name, schema in schemas.items():
            for sub, _ in list(iter_subschemas(schema, ())):
                if sub is schema and is_class_schema(schema):
                    continue
                props = properties_of(sub)
                for wire, prop in list(props.items()):
                    if not isinstance(prop, dict) or PY_NAME not in prop:
                        continue
                    if _PROPERTY.match(wire):
                        del prop[PY_NAME]
                        continue
                    del props[wire]
                    if isinstance(sub.get("required"), list) and wire in sub["required"]:
                        sub["required"].remove(wire)
                        if not sub["required"]:
                            del sub["required"]
                    self.ctx.note(
                        self.renamed.get(id(prop), (prop, ("components", "schemas")))[1],
                        f"property `{wire}` of an inline object in schema `{name}` left out: "
                        f"it is not a Python identifier, and `{PY_NAME}` (its Python name) is "
                        "only for the properties of a named schema",
                    )
