"""Names and schemas that would give a broken package are refused with their manifest position.

Before these rules, each case here either crashed the generator (a RecursionError, an
AttributeError, the formatter failing on a syntax error) or wrote a package that broke on import
or use: a resource `models` overwrote models.py, a resource `close` hid `client.close`, a schema
`Field` was renamed by the model generator so `models.Field` did not exist.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import ManifestError, generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .conftest import BASE

Write = Callable[[str], Path]


def add_resource(name: str, eid: str = "other_thing") -> str:
    return BASE.replace(
        "schemas:\n",
        f"  {name}:\n    endpoints:\n      {eid}:\n        method: GET\n        path: /other\n"
        "        response: Item\nschemas:\n",
    )


def add_schema(name: str, body: str = "{type: object, properties: {a: {type: string}}}") -> str:
    return BASE + f"  {name}: {body}\n"


def generation_problems(path: Path, tmp_path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        generate(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    return [str(p) for p in info.value.problems]


def validation_problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("models", "resource name `models` is taken: the generated package has its own module"),
        ("api", "resource name `api` is taken: the generated package has its own module"),
        ("params", "resource name `params` is taken: the generated package has its own module"),
        ("__init__", "resource name `__init__` must be snake_case, starting with a letter"),
        ("_client", "resource name `_client` must be snake_case, starting with a letter"),
        ("close", "resource name `close` is taken: `client.close` is the client's own"),
        ("endpoints", "resource name `endpoints` is taken"),
    ],
)
def test_resource_names_that_shadow_the_package_are_refused(
    write_manifest: Write, name: str, message: str
) -> None:
    path = write_manifest(add_resource(name))
    found = validation_problems(path)
    assert len(found) == 1, found
    assert found[0].startswith(f"{path}:25:3: resources.{name}: {message}"), found


def test_endpoint_id_with_a_leading_underscore_is_refused(write_manifest: Write) -> None:
    found = validation_problems(write_manifest(add_resource("more", eid="_client")))
    assert found == [found[0]]
    assert "endpoint id `_client` must be snake_case, starting with a letter" in found[0], found


@pytest.mark.parametrize("name", ["Field", "Any", "BaseModel", "ConfigDict", "Literal"])
def test_schema_names_taken_in_the_models_module_are_refused(
    write_manifest: Write, tmp_path: Path, name: str
) -> None:
    path = write_manifest(add_schema(name))
    found = generation_problems(path, tmp_path)
    assert found == [
        f"{path}:38:3: schemas.{name}: schema name `{name}` is taken in the generated models "
        f"module (it needs the name for itself, so `models.{name}` would not be this schema); "
        "rename the schema"
    ], found


def test_keyword_schema_name_is_refused(write_manifest: Write) -> None:
    found = validation_problems(write_manifest(add_schema("None")))
    assert any("schemas.None: schema name `None` must be CamelCase" in p for p in found), found


@pytest.mark.parametrize(("name", "clash"), [("field", "Field"), ("mapping", "Mapping")])
def test_resource_class_over_an_imported_name_is_refused(
    write_manifest: Write, tmp_path: Path, name: str, clash: str
) -> None:
    path = write_manifest(add_resource(name))
    found = generation_problems(path, tmp_path)
    assert found, found  # client.py and the resource's own module may both say so
    for problem in found:
        assert problem.startswith(f"{path}:25:3: resources.{name}: the generated "), found
        assert f"would bind `{clash}` twice" in problem, found


def test_title_with_quotes_gives_a_package_that_parses(
    write_manifest: Write, tmp_path: Path
) -> None:
    path = write_manifest(BASE.replace("title: Mini", 'title: \'Mi"""ni \\ x\''))
    generate(path, tmp_path / "out")  # the formatter failed on the unescaped docstring
    for source in (tmp_path / "out").glob("*.py"):
        compile(source.read_text(), str(source), "exec")


def test_empty_enum_is_refused(write_manifest: Write) -> None:
    found = validation_problems(write_manifest(add_schema("Kind", "{enum: []}")))
    assert any("schemas.Kind.enum: `enum` is empty: list at least one value" in p for p in found)


def test_properties_of_the_wrong_shape_are_located(write_manifest: Write) -> None:
    # iter_subschemas called `.items()` on the list: an AttributeError.
    found = validation_problems(write_manifest(add_schema("E", "{type: object, properties: [a]}")))
    assert any("schemas.E.properties: invalid JSON Schema" in p for p in found), found


@pytest.mark.parametrize(
    ("schemas", "where"),
    [
        ("  Loop: {anyOf: [{$ref: '#/schemas/Loop'}, {type: string}]}\n", "Loop.anyOf[0].$ref"),
        ("  Loop: {type: array, items: {$ref: '#/schemas/Loop'}}\n", "Loop.items.$ref"),
        # Used by a class: the model emitter inlined it forever (RecursionError).
        (
            "  Loop: {anyOf: [{$ref: '#/schemas/Loop'}, {type: string}]}\n"
            "  W: {type: object, properties: {e: {$ref: '#/schemas/Loop'}}}\n",
            "Loop.anyOf[0].$ref",
        ),
        (
            "  A: {type: array, items: {$ref: '#/schemas/B'}}\n"
            "  B: {anyOf: [{$ref: '#/schemas/A'}, {type: 'null'}]}\n",
            "B.anyOf[0].$ref",
        ),
    ],
)
def test_a_non_object_schema_containing_itself_is_refused(
    write_manifest: Write, schemas: str, where: str
) -> None:
    found = validation_problems(write_manifest(BASE + schemas))
    assert len(found) == 1, found
    assert f"schemas.{where}: schema `" in found[0], found
    assert "without an object schema in between" in found[0], found


def test_recursion_through_a_class_is_fine(write_manifest: Write, tmp_path: Path) -> None:
    path = write_manifest(
        add_schema("Node", "{type: object, properties: {next: {$ref: '#/schemas/Node'}}}")
    )
    generate(path, tmp_path / "out")


def test_an_object_that_allows_no_keys_imports(
    write_manifest: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `dict[str, NoReturn]` was emitted without importing NoReturn: a NameError on import.
    path = write_manifest(
        add_schema("Empty", "{type: object, additionalProperties: false}")
        + "  W: {type: object, properties: {e: {$ref: '#/schemas/Empty'}}}\n"
    )
    generate(path, tmp_path / "out")
    spec = importlib.util.spec_from_file_location("hostile_models", tmp_path / "out" / "models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "hostile_models", module)  # for the deferred validators
    spec.loader.exec_module(module)
    assert module.W.model_validate({"e": {}}).e == {}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ('{"X-A": "a\\nb"}', "api.default_headers.X-A: a header value must be printable ASCII"),
        ('{"X A": "b"}', "api.default_headers.X A: header name `X A` is not an HTTP token"),
    ],
)
def test_header_values_and_names_are_checked(
    write_manifest: Write, headers: str, message: str
) -> None:
    text = BASE.replace("  pools:", f"  default_headers: {headers}\n  pools:")
    found = validation_problems(write_manifest(text))
    assert any(message in p for p in found), found


def test_accept_and_content_type_are_header_values(write_manifest: Write) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:",
        '        response: Item\n        accept: "text/x\\r\\nX-Evil: 1"\n      create_item:',
    )
    found = validation_problems(write_manifest(text))
    assert any("get_item.accept: a header value must be printable ASCII" in p for p in found)


def test_models_need_no_postponed_annotations(
    write_manifest: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # models.py has plain annotations, classes in dependency order (A names Z, defined later
    # in the manifest): only a cycle's back edge is quoted, and the package imports and
    # validates (a field called `str` is renamed, so it shadows nothing).
    path = write_manifest(
        add_schema("A", "{type: object, properties: {z: {$ref: '#/schemas/Z'}}}")
        + "  Node: {type: object, properties: {next: {$ref: '#/schemas/Node'}}}\n"
        + "  P: {type: object, properties: {q: {$ref: '#/schemas/Q'}}}\n"
        + "  Q: {type: object, properties: {p: {$ref: '#/schemas/P'}}}\n"
        + "  S: {type: object, properties: {str: {type: string, default: s},"
        + " other: {type: string}}}\n"
        + "  Z: {type: object, properties: {n: {type: integer}}}\n"
    )
    generate(path, tmp_path / "out")
    source = (tmp_path / "out" / "models.py").read_text()
    assert "from __future__ import annotations" not in source
    assert source.index("class Z(") < source.index("class A(")
    assert 'next: "Node | None"' in source
    assert "    other: str | None = None" in source
    spec = importlib.util.spec_from_file_location("eager_models", tmp_path / "out" / "models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "eager_models", module)  # for the deferred validators
    spec.loader.exec_module(module)
    assert module.A.model_validate({"z": {"n": 1}}).z.n == 1
    assert module.Node.model_validate({"next": {"next": {}}}).next.next.next is None
    assert module.P.model_validate({"q": {"p": {}}}).q.p.q is None
    assert module.S.model_validate({"other": "o"}).str_ == "s"
