"""Pydantic models through datamodel-code-generator, plus type aliases for non-class schemas."""

from __future__ import annotations

import ast
import copy
import re
from typing import Any

from datamodel_code_generator import (
    DatetimeClassType,
    GenerateConfig,
    InputFileType,
    LiteralType,
    PythonVersion,
    generate,
)
from datamodel_code_generator.enums import DataModelType

from .enums import EnumTypes, discriminator_properties, is_enum_schema
from .error_shapes import schema_names
from .manifest import Manifest
from .multipart_body import file_fields
from .property_names import field_aliases
from .pytypes import TypeMapper, is_class_schema
from .schema_walk import iter_refs, iter_subschemas, ref_name

__all__ = ["LAZY_MODULE", "OWN_NAMES", "emit_models"]

# Classes of models.py that are no schema's (a schema of that name would be renamed).
OWN_NAMES = frozenset({"BaseModel"})
# The module of the schemas that ``eager_schemas`` leaves out, imported on their first use.
LAZY_MODULE = "_models_lazy"

_DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
_ROOT_MODEL = re.compile(r"\nclass Model\(RootModel\[Any\]\):\n    root: Any\n")


def _request_only(manifest: Manifest) -> set[str]:
    """Schemas reachable from request bodies and from nothing the server sends."""

    def closure(roots: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in seen or name not in manifest.schemas:
                continue
            seen.add(name)
            todo += [ref_name(r) or "" for r, _ in iter_refs(manifest.schemas[name], ())]
        return seen

    requests: set[str] = set()
    others: set[str] = set()
    for resource in manifest.resources.values():
        for ep in resource.endpoints.values():
            if ep.request:
                requests.add(ep.request)
            for name in (
                ep.response,
                ep.future.result if ep.future else None,
                *(ep.stream.schemas() if ep.stream else ()),
                *schema_names(ep.errors),
            ):
                if name:
                    others.add(name)
    others.update(schema_names(manifest.api.errors))  # error bodies come from the server too
    return closure(requests) - closure(others)


def _prepare(manifest: Manifest, enums: EnumTypes) -> dict[str, Any]:
    """Manifest schemas as JSON Schema ``$defs`` for datamodel-code-generator.

    Only object schemas become classes; references to other named schemas (unions) are inlined
    so that the generator makes no wrapper classes for them. Enums become placeholders that
    ``enums`` turns into the enum's name (open where the server's data is read: see enums.py).
    """
    schemas = manifest.schemas
    strict = _request_only(manifest)
    tags = discriminator_properties(schemas)

    def inline(node: Any, open_: bool) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref_name(ref) or ""
                if is_enum_schema(schemas[name]):
                    return enums.named(name, node, open_=open_)
                if not is_class_schema(schemas[name]):
                    merged = {
                        **inline(copy.deepcopy(schemas[name]), open_),
                        **{k: v for k, v in node.items() if k != "$ref"},
                    }
                    return merged
                return {**node, "$ref": f"#/$defs/{name}"}
            if "enum" in node and (placeholder := enums.inline(node, open_=open_)) is not None:
                return placeholder
            # Values (an enum member, a default) are data: a `$ref` key there is no reference.
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key in _DATA_KEYWORDS:
                    out[key] = value
                elif key == "properties" and isinstance(value, dict):
                    # A discriminator's tag stays a closed Literal: pydantic picks the member by it.
                    out[key] = {p: inline(v, open_ and p not in tags) for p, v in value.items()}
                else:
                    out[key] = inline(value, open_)
            return out
        if isinstance(node, list):
            return [inline(v, open_) for v in node]
        return node

    defs: dict[str, Any] = {}
    files = _multipart_files(manifest)
    for name, schema in schemas.items():
        if not is_class_schema(schema):
            continue
        prepared = _nullable_as_type_list(inline(copy.deepcopy(schema), name not in strict))
        for prop, is_list in files.get(name, {}).items():
            # A file is bytes, a path, a file object or a tuple: the runtime checks which when
            # it plans the body (the method's argument is typed `FileInput`).
            doc = {k: v for k, v in prepared["properties"][prop].items() if k == "description"}
            prepared["properties"][prop] = {"type": "array", "items": {}, **doc} if is_list else doc
        for sub, _ in iter_subschemas(prepared, ()):
            required = set(sub.get("required") or [])
            for prop_name, prop in (sub.get("properties") or {}).items():
                if "const" in prop and "default" not in prop and prop_name not in required:
                    prop["default"] = prop["const"]
        if name in strict and "additionalProperties" not in prepared:
            prepared["additionalProperties"] = False
        defs[name] = prepared
    return {"$defs": defs}


def _multipart_files(manifest: Manifest) -> dict[str, dict[str, bool]]:
    """The file fields of every multipart request schema: schema -> field -> is a list."""
    out: dict[str, dict[str, bool]] = {}
    for resource in manifest.resources.values():
        for ep in resource.endpoints.values():
            if ep.body == "multipart" and ep.request in manifest.schemas:
                out[ep.request] = file_fields(manifest.schemas[ep.request])
    return out


def _nullable_as_type_list(node: Any) -> Any:
    """``anyOf: [X, null]`` with a plain typed X becomes ``type: [x, "null"]``.

    datamodel-code-generator otherwise wraps a constrained X (``maxItems``, ``minLength``...) in
    a RootModel class of its own, which then cannot take the ``None`` default.
    """
    if isinstance(node, list):
        return [_nullable_as_type_list(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = {k: _nullable_as_type_list(v) for k, v in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and len(options) == 2 and {"type": "null"} in options:
        (other,) = [o for o in options if o != {"type": "null"}]
        simple = isinstance(other, dict) and isinstance(other.get("type"), str)
        if simple and not ({"$ref", "enum", "const", "anyOf", "oneOf"} & other.keys()):
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return {**other, **rest, "type": [other["type"], "null"]}
    return node


def _factory_defaults(code: str) -> str:
    """Mutable defaults of model-typed fields become ``default_factory`` (typed, and not shared)."""
    tree = ast.parse(code)
    edits: list[tuple[int, int, int, int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for stmt in node.body:
            if not (
                isinstance(stmt, ast.AnnAssign) and isinstance(stmt.value, ast.Dict | ast.List)
            ):
                continue
            annotation = ast.unparse(stmt.annotation)
            if annotation.startswith(("dict[", "list[")):
                continue
            value = stmt.value
            literal = ast.unparse(value)
            assert value.end_lineno is not None
            assert value.end_col_offset is not None
            edits.append(
                (
                    value.lineno,
                    value.col_offset,
                    value.end_lineno,
                    value.end_col_offset,
                    f"Field(default_factory=lambda: cast(Any, {literal}))",
                )
            )
    lines = code.splitlines(keepends=True)
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):
        start = lines[line - 1][:col]
        end = lines[end_line - 1][end_col:]
        lines[line - 1 : end_line] = [start + text + end]
    return "".join(lines)


def _aliases(manifest: Manifest, *, enums: bool) -> list[str]:
    """The ``TypeAlias`` lines of the enum schemas (``enums``) or of every other non-class one.

    Enum aliases come before the classes: a field that names one is then resolved when its
    class is made, so a subclass in another module (a hand-written layer) inherits a finished
    field instead of resolving ``Level`` in its own module, where it is not defined.
    """
    mapper = TypeMapper(manifest.schemas, prefix="")
    names = [
        n
        for n, s in manifest.schemas.items()
        if not is_class_schema(s) and is_enum_schema(s) == enums
    ]
    ordered: list[str] = []

    def visit(name: str, stack: tuple[str, ...] = ()) -> None:
        if name in ordered or name in stack:
            return
        for ref, _ in iter_refs(manifest.schemas[name], ()):
            dep = ref_name(ref) or ""
            if dep in names:
                visit(dep, (*stack, name))
        ordered.append(name)

    for name in names:
        visit(name)
    lines = []
    for name in ordered:
        schema = manifest.schemas[name]
        doc = schema.get("description")
        lines.append(f"{name}: TypeAlias = {mapper.annotation(schema)}")
        if doc:
            lines.append(f'"""{_doc(doc)}"""')
        lines.append("")
    return lines


def _doc(text: str) -> str:
    return " ".join(str(text).split()).replace('"""', "'''").replace("\\", "\\\\")


def emit_models(manifest: Manifest, header: str) -> dict[str, str]:
    """``models.py``: every class schema and an alias for every other schema; with
    ``eager_schemas``, the ones those do not use move to ``_models_lazy.py`` (see ``_split``)."""
    code = _emit_all(manifest, header)
    if not manifest.eager_schemas:
        return {"models.py": code}
    models, lazy = _split(code, set(manifest.eager_schemas), header)
    return {"models.py": models, f"{LAZY_MODULE}.py": lazy} if lazy else {"models.py": models}


def _emit_all(manifest: Manifest, header: str) -> str:
    config = GenerateConfig(
        input_file_type=InputFileType.JsonSchema,
        output_model_type=DataModelType.PydanticV2BaseModel,
        target_python_version=PythonVersion.PY_311,
        use_annotated=True,
        field_constraints=True,
        collapse_root_models=True,
        use_schema_description=True,
        use_field_description=True,
        disable_timestamp=True,
        use_double_quotes=True,
        enum_field_as_literal=LiteralType.All,
        keep_model_order=True,
        strict_nullable=True,
        output_datetime_class=DatetimeClassType.Datetime,
        formatters=[],
        custom_file_header=header,
        # `x-py-name`s (property_names.py): the attribute's name, the wire name its alias.
        aliases=field_aliases(manifest.schemas) or None,
    )
    enums = EnumTypes(manifest.schemas)
    code = generate(_prepare(manifest, enums), config=config)
    if not isinstance(code, str):
        raise TypeError("datamodel-code-generator returned several modules; expected one")
    code = _factory_defaults(enums.substitute(_ROOT_MODEL.sub("\n", code)))
    future = "from __future__ import annotations\n"
    header_end = code.index(future) + len(future)
    extra_imports = (
        "from datetime import date, datetime\n"
        "from typing import Annotated, Any, Literal, NoReturn, TypeAlias, cast\n"
        "from pydantic import Field\n"
    )
    # BaseModel is the deferred base below, not pydantic's own.
    code = _PYDANTIC_BASEMODEL.sub(_without_basemodel, code)
    code = code[:header_end] + extra_imports + code[header_end:]
    first_class = code.index("\nclass ")
    enum_aliases = "\n".join(_aliases(manifest, enums=True))
    code = code[:first_class] + _DEFERRED_BASE + enum_aliases + code[first_class:]
    code = _eager_annotations(code)
    return code.rstrip() + "\n\n\n" + "\n".join(_aliases(manifest, enums=False)) + "\n"


def _eager_annotations(code: str) -> str:
    """Without ``from __future__ import annotations``: classes in dependency order, and only the
    annotations that must wait (a class defined later, in a cycle, or a name that an earlier
    field of the class shadows) quoted.

    pydantic evaluates every string annotation when it makes the class (compiling each one):
    with plain annotations, making the ~100 classes of an API costs about a quarter less.
    """
    code = code.replace("from __future__ import annotations\n", "", 1)
    tree = ast.parse(code)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    models = [c for c in classes if c.name != "BaseModel"]
    if not models:
        return code
    start, end = tree.body.index(models[0]), tree.body.index(models[-1])
    if any(not isinstance(n, ast.ClassDef) for n in tree.body[start : end + 1]):
        raise ValueError("models: expected the model classes in one run")
    names = {c.name for c in models}
    position = {c.name: i for i, c in enumerate(models)}

    def refs(node: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names}

    # Dependencies first, otherwise the generator's order (stable output); a cycle's back edge
    # is left to a quoted annotation.
    order: list[ast.ClassDef] = []
    done: set[str] = set()

    def visit(cls: ast.ClassDef, stack: frozenset[str]) -> None:
        if cls.name in done or cls.name in stack:
            return
        for dep in sorted(refs(cls) - {cls.name}, key=position.__getitem__):
            visit(models[position[dep]], stack | {cls.name})
        done.add(cls.name)
        order.append(cls)

    for cls in models:
        visit(cls, frozenset())
    placed = {c.name: i for i, c in enumerate(order)}
    lines = code.splitlines(keepends=True)
    # Each class with the lines up to the next one (blank lines, comments).
    bounds = [(c.decorator_list[0].lineno if c.decorator_list else c.lineno) - 1 for c in models]
    bounds.append(models[-1].end_lineno or len(lines))
    head, tail = "".join(lines[: bounds[0]]), "".join(lines[bounds[-1] :])
    segments: dict[str, str] = {}
    for i, cls in enumerate(models):
        first, stop = bounds[i], bounds[i + 1]
        seg = lines[first:stop]
        edits: list[tuple[int, int, int, int, str]] = []
        fields: set[str] = set()
        for stmt in cls.body:
            if isinstance(stmt, ast.AnnAssign):
                used = {n.id for n in ast.walk(stmt.annotation) if isinstance(n, ast.Name)}
                later = {n for n in used & names if placed[n] >= placed[cls.name]}
                if later or used & fields:
                    ann = stmt.annotation
                    assert ann.end_lineno is not None
                    assert ann.end_col_offset is not None
                    text = repr(ast.unparse(ann))
                    edits.append(
                        (ann.lineno, ann.col_offset, ann.end_lineno, ann.end_col_offset, text)
                    )
            targets = (
                stmt.targets if isinstance(stmt, ast.Assign) else [getattr(stmt, "target", None)]
            )
            fields.update(t.id for t in targets if isinstance(t, ast.Name))
        for line, col, end_line, end_col, text in sorted(edits, reverse=True):
            a, b = line - 1 - first, end_line - 1 - first
            seg[a : b + 1] = [seg[a][:col] + text + seg[b][end_col:]]
        segments[cls.name] = "".join(seg).rstrip("\n") + "\n\n\n"
    body = "".join(segments[c.name] for c in order)
    return head + body.rstrip("\n") + "\n" + tail


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _split(code: str, eager: set[str], header: str) -> tuple[str, str]:
    """Models of the ``eager`` schemas and of those they use, in ``models.py``; the rest in a
    module that ``models.__getattr__`` imports when one of them is first asked for.

    Making a pydantic class is most of the cost of importing the models module (a third of a
    millisecond each, validators deferred or not); a program uses a few of an API's schemas.
    Lazy classes keep their own module as ``__module__``, whose namespace holds every name
    their (quoted) annotations use, so pydantic resolves them there; pickle finds them there.
    """
    tree = ast.parse(code)
    body = tree.body
    classes = [n for n in body if isinstance(n, ast.ClassDef) and n.name != "BaseModel"]
    start = body.index(classes[0])
    # Each definition with the docstring statements after it.
    groups: list[tuple[str, list[ast.stmt]]] = []
    for stmt in body[start:]:
        if isinstance(stmt, ast.ClassDef):
            groups.append((stmt.name, [stmt]))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            groups.append((stmt.target.id, [stmt]))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and groups:
            groups[-1][1].append(stmt)
        elif _rebuilt(stmt):
            # `Node.model_rebuild()` (a recursive model): stays in place, in its class's module.
            groups.append((_rebuilt(stmt) + ".", [stmt]))
        else:
            raise ValueError(f"models: unexpected statement at line {stmt.lineno}")
    defined = {name for name, _ in groups if not name.endswith(".")}

    def used(stmts: list[ast.stmt]) -> set[str]:
        names: set[str] = set()
        for stmt in stmts:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names.update(_NAME.findall(node.value))  # quoted annotations
        return names

    deps = {name: used(stmts) & defined - {name} for name, stmts in groups if name in defined}
    hot: set[str] = set()
    todo = sorted(eager & defined)
    while todo:
        name = todo.pop()
        if name not in hot:
            hot.add(name)
            todo += sorted(deps[name])
    cold = [(name, stmts) for name, stmts in groups if name.removesuffix(".") not in hot]
    if not cold:
        return code, ""
    lines = code.splitlines(keepends=True)

    def source(stmts: list[ast.stmt]) -> str:
        first = stmts[0]
        top = (
            first.decorator_list[0].lineno
            if isinstance(first, ast.ClassDef) and first.decorator_list
            else first.lineno
        )
        return "".join(lines[top - 1 : stmts[-1].end_lineno]).rstrip("\n")

    imports = "\n".join(
        ast.get_source_segment(code, n) or ""
        for n in body
        if isinstance(n, (ast.Import, ast.ImportFrom))
    )
    head_names = {
        n.target.id
        if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        else getattr(n, "name", "")
        for n in body[:start]
    } - {""}
    cold_names = [name for name, _ in cold if name in defined]
    needed = set().union(*(used(stmts) for _, stmts in cold)) & (
        (defined - set(cold_names)) | head_names
    )
    lazy = (
        header
        + '\n"""The schemas that ``models`` defines on first use (``models.__getattr__``)."""\n\n'
        + imports
        + "\n\n"
        + (f"from .models import {', '.join(sorted(needed))}\n\n\n" if needed else "\n\n")
        + "\n\n\n".join(source(stmts) for _, stmts in cold)
        + "\n"
    )
    keep = [stmts for name, stmts in groups if name.removesuffix(".") in hot]
    listed = "".join(f"    {n!r},\n" for n in cold_names)
    as_names = "".join(f"        {n} as {n},\n" for n in cold_names)
    models = (
        "".join(lines[: (body[start].lineno - 1)])
        .replace("from typing import ", "from typing import TYPE_CHECKING, ", 1)
        .rstrip("\n")
        + "\n\n\n"
        + "".join(source(stmts) + "\n\n\n" for stmts in keep)
        + f"_LAZY = frozenset({{\n{listed}}})\n\n"
        + "if TYPE_CHECKING:\n"
        + f"    from .{LAZY_MODULE} import (\n{as_names}    )\n"
        + "else:\n\n"
        + "    def __getattr__(name: str) -> Any:\n"
        + '        """A lazy schema\'s model: its module is imported on first use, then every one of\n'
        + '        them is bound here (later lookups do not come back)."""\n'
        + "        if name not in _LAZY:\n"
        + '            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")\n'
        + f"        from . import {LAZY_MODULE} as lazy\n\n"
        + "        globals().update({n: getattr(lazy, n) for n in _LAZY})\n"
        + "        return globals()[name]\n"
    )
    return models, lazy


def _rebuilt(stmt: ast.stmt) -> str:
    """``X`` of a statement ``X.model_rebuild()``, else ``""``."""
    if isinstance(stmt, ast.Expr) and isinstance(call := stmt.value, ast.Call):
        func = call.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return func.value.id if func.attr == "model_rebuild" else ""
    return ""


_PYDANTIC_BASEMODEL = re.compile(r"^from pydantic import (.+)$", re.MULTILINE)


def _without_basemodel(match: re.Match[str]) -> str:
    names = [n.strip() for n in match.group(1).split(",") if n.strip() != "BaseModel"]
    return f"from pydantic import {', '.join(names)}" if names else ""


# Every model's validator is built when the model is first used, not at import: a program uses
# a few of an API's schemas, and building all of them was most of the import time. pydantic
# builds a deferred model once even when threads use it first at the same time (from 2.14).
_DEFERRED_BASE = '''
from pydantic import BaseModel as _PydanticModel, ConfigDict


class BaseModel(_PydanticModel):
    """The base of every schema: validators are built on first use, not at import. A field
    whose wire name is not its attribute's is read by either name and written by the wire's.
    An instance of a subclass (a hand-written type extending a schema) is written by its own
    serializer, so what it keeps in another form (packed bytes) is not dropped."""

    model_config = ConfigDict(
        defer_build=True,
        validate_by_alias=True,
        validate_by_name=True,
        serialize_by_alias=True,
        polymorphic_serialization=True,
    )

'''
