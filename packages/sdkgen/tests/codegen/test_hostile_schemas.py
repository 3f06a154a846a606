"""Manifest values that reached generated code, or made the generator hang or crash.

Before these rules: a discriminator's property name and a secret header's name were pasted into
the generated source (a manifest could run code when the package was imported), a path was
pasted into a docstring, a chain of a thousand schemas overflowed the stack, a `^(a+)+$` pattern
with a default took the generator minutes, and each default rebuilt the whole schema registry
(minutes for a few thousand schemas).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import referencing
from sdkgen.codegen import ManifestError, generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.schema_graph import MAX_EXPANDED_DEPTH
from sdkgen.codegen.validate import validate

from .conftest import BASE
from .test_hostile_names import add_resource, add_schema

Write = Callable[[str], Path]
PAYLOAD = '__import__("os").system("echo PWNED")'


def validation_problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


def test_discriminator_property_is_not_pasted_into_code(
    write_manifest: Write, tmp_path: Path
) -> None:
    prop = f'k"), {PAYLOAD}, Field(x="'.replace('"', '\\"')
    text = (
        add_schema("A", "{type: object, properties: {k: {const: a}}}")
        + "  B: {type: object, properties: {k: {const: b}}}\n"
        + "  U:\n    oneOf: [{$ref: '#/schemas/A'}, {$ref: '#/schemas/B'}]\n"
        + f'    discriminator: {{propertyName: "{prop}"}}\n'
    )
    found = validation_problems(write_manifest(text))
    assert any(
        "schemas.U.discriminator: a discriminator is `{propertyName: <a property name>}`" in p
        for p in found
    ), found


def test_discriminator_of_the_wrong_shape_is_located(write_manifest: Write) -> None:
    text = add_schema("U", "{oneOf: [{type: string}], discriminator: [1]}")
    found = validation_problems(write_manifest(text))  # was an AttributeError
    assert any("schemas.U.discriminator: a discriminator is" in p for p in found), found


def test_secret_header_name_is_not_pasted_into_code(write_manifest: Write) -> None:
    header = f'X", {PAYLOAD}, "'.replace('"', '\\"')
    text = BASE.replace(
        "        response: Item\n      create_item:",
        f'        response: Item\n        secret_headers: {{"{header}": tok}}\n      create_item:',
    )
    found = validation_problems(write_manifest(text))
    assert any("is not an HTTP token" in p and "secret_headers" in p for p in found), found


@pytest.mark.parametrize("path", ['/x"""', "/a b", "/tab\t", '/q"', "/back\\slash", "/é"])
def test_path_holds_only_url_characters(write_manifest: Write, path: str) -> None:
    text = add_resource("more").replace("path: /other", f"path: {json.dumps(path)}")
    found = validation_problems(write_manifest(text))
    assert any("more.endpoints.other_thing.path: a path may hold only URL path" in p for p in found)


@pytest.mark.parametrize("file", ["/etc/x.proto", "../x.proto", "x-y.proto"])
def test_protobuf_file_stays_beside_the_manifest(write_manifest: Write, file: str) -> None:
    text = BASE.replace("  pools:", f"  protobuf: {{file: '{file}'}}\n  pools:")
    found = validation_problems(write_manifest(text))
    assert any("api.protobuf.file: the .proto file must be a relative path" in p for p in found)


def test_a_long_chain_of_schemas_is_refused_without_recursion(write_manifest: Write) -> None:
    chain = "".join(
        f"  A{i}: {{type: array, items: {{$ref: '#/schemas/A{i + 1}'}}}}\n" for i in range(1500)
    )
    text = BASE + chain + "  A1500: {type: string}\n"
    text += "  W: {type: object, properties: {e: {$ref: '#/schemas/A0'}}}\n"
    found = validation_problems(write_manifest(text))  # a RecursionError in the emitter before
    assert len(found) == 1, found
    assert "schemas.W: schema `W` nests 3004 levels deep" in found[0], found
    assert f"(at most {MAX_EXPANDED_DEPTH})" in found[0], found


def test_a_chain_within_the_limit_generates(write_manifest: Write, tmp_path: Path) -> None:
    chain = "".join(
        f"  A{i}: {{type: array, items: {{$ref: '#/schemas/A{i + 1}'}}}}\n" for i in range(18)
    )
    text = BASE + chain + "  A18: {type: string}\n"
    text += "  W: {type: object, properties: {e: {$ref: '#/schemas/A0'}}}\n"
    generate(write_manifest(text), tmp_path / "out")


def test_a_catastrophic_pattern_does_not_hang_the_default_check(write_manifest: Write) -> None:
    text = BASE.replace(
        "size: {type: integer, default: 1}",
        "size: {type: string, pattern: '^(a+)+$', default: '" + "a" * 40 + "!'}",
    )
    started = time.monotonic()
    found = validation_problems(write_manifest(text))
    assert time.monotonic() - started < 30  # Python's re: 2**40 steps, hours
    assert len(found) == 1, found
    assert "size.default: default 'aaaa" in found[0], found
    assert "does not match '^(a+)+$'" in found[0], found


@pytest.mark.parametrize("pattern", ["(?=a)a", "(a)\\\\1"])
def test_patterns_the_models_cannot_compile_are_refused(
    write_manifest: Write, pattern: str
) -> None:
    text = BASE.replace(
        "size: {type: integer, default: 1}", f'size: {{type: string, pattern: "{pattern}"}}'
    )
    found = validation_problems(write_manifest(text))
    assert len(found) == 1, found
    assert (
        "NewItem.properties.size.pattern: the generated models cannot use this pattern"
        in (found[0])
    ), found


def test_a_query_parameter_pattern_is_checked_too(write_manifest: Write) -> None:
    text = BASE.replace(
        "path_params: {item_id: {schema: {type: string}}}",
        "path_params: {item_id: {schema: {type: string, pattern: '(?<=x)y'}}}",
    )
    found = validation_problems(write_manifest(text))
    assert any("path_params.item_id.schema.pattern: the generated models" in p for p in found)


def test_defaults_do_not_rebuild_the_registry_each(
    write_manifest: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each rebuild copies every schema: quadratic, 85 s for 3,000 schemas with a default.
    calls = 0
    combine = referencing.Registry.combine

    def counting(self: referencing.Registry[Any], *others: referencing.Registry[Any]) -> Any:
        nonlocal calls
        calls += 1
        return combine(self, *others)

    monkeypatch.setattr(referencing.Registry, "combine", counting)
    schemas = "".join(
        f"  S{i}: {{type: object, properties: {{a: {{type: string, default: x}}}}}}\n"
        for i in range(60)
    )
    validate(load_yaml(write_manifest(BASE + schemas)))
    assert calls < 10, calls


# -- found by mutating the golden manifest at random (each was a TypeError or KeyError) ------


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ("{type: object, properties: {a: {type: string}}, required: 1}", "E.required"),
        ("{type: object, properties: {a: {type: string}}, required: [[a]]}", "E.required[0]"),
        ("{type: object, properties: 1.5}", "E.properties"),
    ],
)
def test_wrong_shapes_are_reported_by_the_schema_check(
    write_manifest: Write, schema: str, where: str
) -> None:
    found = validation_problems(write_manifest(add_schema("E", schema)))
    assert any(f"schemas.{where}: invalid JSON Schema" in p for p in found), found


def test_a_request_schema_with_broken_properties_is_located(write_manifest: Write) -> None:
    text = BASE.replace(
        "  NewItem:\n    type: object\n    properties:\n      name: {type: string}\n"
        "      size: {type: integer, default: 1}\n",
        "  NewItem:\n    type: object\n    properties: 7\n",
    )
    found = validation_problems(write_manifest(text))
    assert any("schemas.NewItem.properties: invalid JSON Schema" in p for p in found), found


def test_a_default_reaching_a_broken_schema_is_not_checked_yet(write_manifest: Write) -> None:
    text = (
        BASE.replace(
            "      size: {type: integer, default: 1}\n",
            "      size: {$ref: '#/schemas/Bad', default: 1}\n",
        )
        + "  Bad: {enum: 5}\n"
    )
    found = validation_problems(write_manifest(text))
    assert any("schemas.Bad.enum: invalid JSON Schema" in p for p in found), found


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ("{type: object, properties: {a: true}}", "E.properties.a"),
        ("{anyOf: [{type: string}, false]}", "E.anyOf[1]"),
    ],
)
def test_boolean_property_or_member_schemas_are_refused(
    write_manifest: Write, schema: str, where: str
) -> None:
    found = validation_problems(write_manifest(add_schema("E", schema)))
    assert any(f"schemas.{where}: a property or union member must be a mapping" in p for p in found)


@pytest.mark.parametrize("values", ["[a, {$ref: '#/schemas/Nope'}]", "[a, [1]]"])
def test_enum_values_are_scalars(write_manifest: Write, values: str) -> None:
    # A mapping with `$ref` in an enum was taken for a reference by the model emitter (KeyError).
    found = validation_problems(write_manifest(add_schema("Kind", f"{{enum: {values}}}")))
    assert any("schemas.Kind.enum[1]: `enum` values must be strings, numbers" in p for p in found)
