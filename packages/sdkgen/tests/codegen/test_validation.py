"""Every kind of manifest problem is reported, with file:line:column and key path, all at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import ManifestError, generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .conftest import BASE

Write = Callable[[str], Path]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in manifest")


def test_the_base_manifest_is_valid(write_manifest: Write) -> None:
    manifest = validate(load_yaml(write_manifest(BASE)))
    assert set(manifest.resources["items"].endpoints) == {"get_item", "create_item"}


def test_unknown_key_is_reported_with_position(write_manifest: Write) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:", "        respons: Item\n      create_item:"
    )
    path = write_manifest(text)
    found = problems_of(path)
    line = line_of(text, "respons: Item")
    assert any(
        f"{path}:{line}:9: resources.items.endpoints.get_item.respons: unknown key `respons`" == p
        for p in found
    ), found


def test_unknown_schema_reference(write_manifest: Write) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:", "        response: Itme\n      create_item:"
    )
    found = problems_of(write_manifest(text))
    assert any("get_item.response: unknown schema reference `Itme`" in p for p in found), found


def test_unknown_ref_inside_a_schema(write_manifest: Write) -> None:
    text = BASE.replace(
        "      name: {type: string}\n      size", "      name: {$ref: '#/schemas/Nope'}\n      size"
    )
    found = problems_of(write_manifest(text))
    assert any(
        "schemas.NewItem.properties.name.$ref: unknown schema reference `Nope`" in p for p in found
    ), found


def test_duplicate_endpoint_id_across_resources(write_manifest: Write) -> None:
    text = BASE.replace(
        "schemas:\n",
        "  more:\n    endpoints:\n      get_item:\n        method: GET\n        path: /other\nschemas:\n",
    )
    found = problems_of(write_manifest(text))
    assert any("duplicate endpoint id `get_item` (also in resource `items`)" in p for p in found), (
        found
    )


def test_duplicate_yaml_key_is_not_silently_merged(write_manifest: Write) -> None:
    text = BASE.replace(
        "        request: NewItem\n", "        request: NewItem\n        request: Item\n"
    )
    found = problems_of(write_manifest(text))
    assert any("create_item.request: duplicate key" in p for p in found), found


def test_path_param_not_declared(write_manifest: Write) -> None:
    text = BASE.replace("path: /items/{item_id}", "path: /items/{item_id}/{part}")
    found = problems_of(write_manifest(text))
    assert any("path parameter `part` is not declared in path_params" in p for p in found), found


def test_path_param_declared_but_unused(write_manifest: Write) -> None:
    text = BASE.replace("path: /items/{item_id}", "path: /items")
    found = problems_of(write_manifest(text))
    assert any(
        "get_item.path_params.item_id: path parameter `item_id` is not used in the path" in p
        for p in found
    ), found


def test_future_without_result_schema(write_manifest: Write) -> None:
    text = BASE.replace(
        "        request: NewItem\n", "        request: NewItem\n        future: {}\n"
    )
    found = problems_of(write_manifest(text))
    assert any(
        "create_item.future: a future endpoint must name its result schema" in p for p in found
    ), found
    assert any("future endpoints need `api.futures`" in p for p in found), found


def test_default_that_violates_its_own_type(write_manifest: Write) -> None:
    text = BASE.replace(
        "size: {type: integer, default: 1}", 'size: {type: integer, default: "big"}'
    )
    path = write_manifest(text)
    found = problems_of(path)
    line = line_of(text, 'default: "big"')
    assert any(
        p.startswith(f"{path}:{line}:")
        and "schemas.NewItem.properties.size.default: default 'big' violates its own schema" in p
        for p in found
    ), found


def test_default_checked_through_references(write_manifest: Write) -> None:
    text = BASE.replace(
        "      size: {type: integer, default: 1}",
        "      size: {$ref: '#/schemas/Size', default: huge}",
    ).replace("schemas:\n", "schemas:\n  Size: {enum: [small, large]}\n")
    found = problems_of(write_manifest(text))
    assert any("default 'huge' violates its own schema" in p for p in found), found


def test_unknown_retry_policy(write_manifest: Write) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:",
        "        response: Item\n        retry: eager\n      create_item:",
    )
    found = problems_of(write_manifest(text))
    assert any(
        "get_item.retry: unknown retry policy `eager` (known: default)" in p for p in found
    ), found


def test_unknown_pool(write_manifest: Write) -> None:
    text = BASE.replace(
        "        response: Item\n      create_item:",
        "        response: Item\n        pool: fast\n      create_item:",
    )
    found = problems_of(write_manifest(text))
    assert any("get_item.pool: unknown pool `fast`" in p for p in found), found


def test_unknown_schema_keyword(write_manifest: Write) -> None:
    text = BASE.replace("size: {type: integer, default: 1}", "size: {type: integer, defualt: 1}")
    found = problems_of(write_manifest(text))
    assert any(
        "schemas.NewItem.properties.size.defualt: unknown key `defualt` in a schema" in p
        for p in found
    ), found


def test_wrong_value_type_is_reported(write_manifest: Write) -> None:
    text = BASE.replace("method: GET", "method: FETCH", 1)
    found = problems_of(write_manifest(text))
    assert any("get_item.method: Input should be 'GET'" in p for p in found), found


def test_yaml_syntax_error_has_a_position(write_manifest: Write) -> None:
    path = write_manifest(BASE + "  Broken: {type: object\n")
    found = problems_of(path)
    assert len(found) == 1
    assert found[0].startswith(f"{path}:")
    assert "YAML syntax error" in found[0]


def test_every_problem_is_reported_at_once(write_manifest: Write) -> None:
    text = (
        BASE.replace("path: /items/{item_id}", "path: /items/{item_id}/{part}")
        .replace(
            "        response: Item\n      create_item:",
            "        response: Item\n        retry: eager\n      create_item:",
        )
        .replace("size: {type: integer, default: 1}", 'size: {type: integer, default: "big"}')
    )
    found = problems_of(write_manifest(text))
    assert len(found) == 3, found
    # Reported in file order.
    assert found == sorted(found, key=lambda p: int(p.split(":")[1]))


def test_structure_errors_still_report_broken_references(write_manifest: Write) -> None:
    text = BASE.replace('  version: "1"\n', "").replace(
        "      name: {type: string}\n      size", "      name: {$ref: '#/schemas/Nope'}\n      size"
    )
    found = problems_of(write_manifest(text))
    assert any("api.version: missing required key `version`" in p for p in found), found
    assert any("unknown schema reference" in p for p in found), found


def test_nothing_is_written_when_the_manifest_is_bad(write_manifest: Write, tmp_path: Path) -> None:
    out = tmp_path / "pkg"
    out.mkdir()
    (out / "keep.py").write_text("# existing\n")
    bad = write_manifest(
        BASE.replace("response: Item\n      create_item:", "response: Nope\n      create_item:")
    )
    with pytest.raises(ManifestError):
        generate(bad, out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.py"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pkg")]


def test_poll_endpoint_must_take_the_future_id(write_manifest: Write) -> None:
    text = BASE.replace(
        "  pools:\n",
        "  futures:\n    poll_endpoint: get_item\n    request_id_field: job_id\n"
        "    pending: {field: state, equals: queued}\n    failed: {field: error}\n  pools:\n",
    )
    found = problems_of(write_manifest(text))
    assert any(
        "api.futures.request_id_field: the poll endpoint `get_item` takes no `job_id`" in p
        for p in found
    ), found
    fine = text.replace("request_id_field: job_id", "request_id_field: item_id")
    assert validate(load_yaml(write_manifest(fine))).api.futures is not None
