"""Issue 11, points 3 and 4, in the generator: every resource gets ``with_raw_response`` /
``with_streaming_response`` views of all its endpoint methods; a method with a request body
also takes the prebuilt model (two typed overloads); only methods that send an idempotency key
take ``idempotency_key``; named enums are referred to by name, never copied inline; and the
names all this needs are refused in a manifest with file:line."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from sdkgen.codegen import ManifestError, generate
from sdkgen.codegen.enums import is_enum_schema, literal
from sdkgen.codegen.validate import RESOURCE_MEMBERS

from .conftest import BASE

TESTS = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
Write = Callable[[str], Path]


def _classes(source: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}


def _functions(cls: ast.ClassDef, name: str) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [
        n
        for n in cls.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == name
    ]


def _kwonly(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in node.args.kwonlyargs]


def _wrapped(cls: ast.ClassDef) -> dict[str, str]:
    """`self.<name> = <wrapper>(resource.<name>)` assignments of a view's __init__."""
    init = _functions(cls, "__init__")[0]
    found: dict[str, str] = {}
    for stmt in init.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            target = stmt.targets[0]
            assert isinstance(target, ast.Attribute)
            func = stmt.value.func
            assert isinstance(func, ast.Name)
            found[target.attr] = func.id
    return found


def test_every_resource_has_raw_and_streaming_views_of_all_its_endpoints() -> None:
    source = (GOLDEN / "notes_sdk" / "notes.py").read_text()
    classes = _classes(source)
    endpoints = {"create_note", "get_note", "list_notes", "delete_note", "start_export"}
    endpoints |= {"get_export", "watch"}
    for prefix, wrap in (("", ""), ("Async", "async_")):
        resource = classes[f"{prefix}Notes"]
        for view, kind in (("raw", "Raw"), ("streaming", "Streaming")):
            prop = _functions(resource, f"with_{view}_response")[0]
            assert any(ast.unparse(d) == "cached_property" for d in prop.decorator_list)
            assert ast.unparse(prop.returns or ast.Constant(None)) == (
                f"{prefix}NotesWith{kind}Response"
            )
            wrapper = f"{wrap}to_{'raw' if view == 'raw' else 'streamed'}_response_wrapper"
            assigned = _wrapped(classes[f"{prefix}NotesWith{kind}Response"])
            assert assigned == dict.fromkeys(endpoints, wrapper)


def test_a_body_method_has_a_fields_and_a_request_overload(tmp_path: Path) -> None:
    source = (GOLDEN / "notes_sdk" / "notes.py").read_text()
    create = _functions(_classes(source)["Notes"], "create_note")
    assert len(create) == 3  # two overloads and the implementation
    fields, request, impl = create
    assert all(
        ast.unparse(d) == "overload" for d in (*fields.decorator_list, *request.decorator_list)
    )
    assert "text" in _kwonly(fields)
    assert "request" not in _kwonly(fields)
    assert "request" in _kwonly(request)
    assert "text" not in _kwonly(request)
    assert not impl.decorator_list
    annotations = {
        a.arg: ast.unparse(a.annotation) for a in request.args.kwonlyargs if a.annotation
    }
    assert annotations["request"] == "models.NewNote"
    # A method without a body has one signature and no `request`.
    get = _functions(_classes(source)["Notes"], "get_note")
    assert len(get) == 1
    assert "request" not in _kwonly(get[0])


def test_only_methods_that_send_an_idempotency_key_take_one() -> None:
    source = (GOLDEN / "notes_sdk" / "notes.py").read_text()
    notes = _classes(source)["Notes"]
    for name in ("get_note", "list_notes", "watch", "iter_list_notes"):
        assert "idempotency_key" not in _kwonly(_functions(notes, name)[-1]), name
    for name in ("create_note", "delete_note", "start_export", "get_export"):
        assert "idempotency_key" in _kwonly(_functions(notes, name)[-1]), name


def test_without_an_idempotency_header_no_method_takes_a_key(
    write_manifest: Write, tmp_path: Path
) -> None:
    out = tmp_path / "mini_sdk"
    generate(write_manifest(BASE), out)  # BASE names no api.idempotency_header
    assert "idempotency_key" not in (out / "items.py").read_text()
    keyed = BASE.replace(
        "  retry_policies:", "  idempotency_header: Idempotency-Key\n  retry_policies:"
    )
    generate(write_manifest(keyed), out)
    items = _classes((out / "items.py").read_text())["Items"]
    assert "idempotency_key" in _kwonly(_functions(items, "create_item")[-1])
    assert "idempotency_key" not in _kwonly(_functions(items, "get_item")[-1])


def test_a_body_field_named_request_gets_another_argument_name(
    write_manifest: Write, tmp_path: Path
) -> None:
    text = BASE.replace(
        "      size: {type: integer, default: 1}\n", "      request: {type: string}\n"
    )
    out = tmp_path / "mini_sdk"
    generate(write_manifest(text), out)
    source = (out / "items.py").read_text()
    fields, by_model, _ = _functions(_classes(source)["Items"], "create_item")
    assert "request_" in _kwonly(fields)
    assert _kwonly(by_model).count("request") == 1
    assert 'wire={"request_": "request"}' in source  # still sent under its wire name


def test_a_query_parameter_named_request_is_refused(write_manifest: Write, tmp_path: Path) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:",
        "        response: Item\n        query: {request: {schema: {type: string}}}\n"
        "      create_item:",
    )
    with pytest.raises(ManifestError) as info:
        generate(write_manifest(text), tmp_path / "out")
    problems = [str(p) for p in info.value.problems]
    assert any(
        re.search(r"manifest\.yaml:\d+:\d+: .*query\.request.*request", p) for p in problems
    ), problems


@pytest.mark.parametrize("eid", sorted(RESOURCE_MEMBERS))
def test_an_endpoint_named_like_a_view_is_refused(
    write_manifest: Write, tmp_path: Path, eid: str
) -> None:
    text = BASE.replace("      create_item:", f"      {eid}:")
    with pytest.raises(ManifestError) as info:
        generate(write_manifest(text), tmp_path / "out")
    problems = [str(p) for p in info.value.problems]
    assert any(
        re.search(rf"manifest\.yaml:\d+:\d+: resources\.items\.endpoints\.{eid}: .*is taken", p)
        for p in problems
    ), problems


def test_the_reserved_views_are_what_a_resource_has(tmp_path: Path) -> None:
    source = (GOLDEN / "notes_sdk" / "notes.py").read_text()
    notes = _classes(source)["Notes"]
    endpoints = {"create_note", "get_note", "list_notes", "delete_note", "start_export"}
    endpoints |= {"get_export", "watch", "iter_list_notes"}
    members = {
        n.name
        for n in notes.body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and not n.name.startswith("_")
    }
    assert members - endpoints == RESOURCE_MEMBERS


# -- enums by name ---------------------------------------------------------------------------


def _inline_copies(manifest: Path, package: Path) -> list[str]:
    """Where a named enum's values appear as a Literal other than in its own alias."""
    schemas = yaml.safe_load(manifest.read_text())["schemas"]
    enums = {name: s for name, s in schemas.items() if is_enum_schema(s)}
    assert enums, manifest  # the check must have something to find
    found = []
    for path in sorted(package.glob("*.py")):
        # One line per statement, so that a Literal ruff wrapped over lines is found too.
        flat = re.sub(r"\s+", " ", path.read_text()).replace("[ ", "[").replace(", ]", "]")
        for name, schema in enums.items():
            text = literal(list(schema["enum"]))
            copies = flat.count(text) - flat.count(f"{name}: TypeAlias = {text}")
            if copies:
                found.append(f"{path.name}: {name} copied {copies} time(s)")
    return found


def test_named_enums_are_never_copied_inline_in_the_golden_package() -> None:
    assert _inline_copies(GOLDEN / "mini.yaml", GOLDEN / "notes_sdk") == []


def test_named_enums_are_never_copied_inline_in_the_sibling(tmp_path: Path) -> None:
    manifest = TESTS / "sibling" / "renderfarm.yaml"
    generate(manifest, tmp_path / "farm_sdk")
    assert _inline_copies(manifest, tmp_path / "farm_sdk") == []


def test_a_named_enum_is_referred_to_by_name_everywhere(
    write_manifest: Write, tmp_path: Path
) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:",
        "        response: Item\n        query:\n"
        "          level: {schema: {$ref: '#/schemas/Level'}}\n"
        "          x-level: {in: header, name: x_level, schema: {$ref: '#/schemas/Level'}}\n"
        "      create_item:",
    ).replace(
        "      size: {type: integer, default: 1}\n",
        "      size: {type: integer, default: 1}\n"
        "      level: {$ref: '#/schemas/Level', default: low}\n"
        "      levels: {type: array, items: {$ref: '#/schemas/Level'}}\n"
        "      maybe: {anyOf: [{$ref: '#/schemas/Level'}, {type: 'null'}]}\n",
    )
    text += "  Level: {enum: [low, high], description: How much.}\n"
    out = tmp_path / "mini_sdk"
    generate(write_manifest(text), out)
    assert _inline_copies(write_manifest(text), out) == []
    items = (out / "items.py").read_text()
    for annotation in ("level: models.Level | None", "x_level: models.Level | None"):
        assert annotation in items
    for annotation in ("models.Level | NotGiven", "list[models.Level]", "models.Level | None"):
        assert annotation in items
    assert "level: models.Level | None" in (out / "params.py").read_text()
