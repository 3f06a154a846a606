"""Issue 11, point 3: the per-call escape hatches ``extra_query`` / ``extra_body``. Which
generated methods take them, what they pass on, and that manifest names cannot take them over
(refused with file:line, or renamed for body fields)."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError
from tests.codegen.conftest import BASE
from tests.sibling.conftest import import_from


def _method(source: str, name: str) -> ast.FunctionDef:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise AssertionError(name)


def _kwonly(node: ast.FunctionDef) -> list[str]:
    return [a.arg for a in node.args.kwonlyargs]


def test_every_method_takes_extra_query_and_json_body_methods_take_extra_body(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "mini_sdk"
    generate(write_manifest(BASE), out)
    source = (out / "items.py").read_text()
    get_item = _kwonly(_method(source, "get_item"))
    create_item = _kwonly(_method(source, "create_item"))
    assert "extra_query" in get_item
    assert "extra_body" not in get_item  # no body to merge into
    assert "extra_query" in create_item
    assert "extra_body" in create_item
    # Both are passed on to the runtime, next to extra_headers.
    assert source.count("extra_query=extra_query,") == 4  # 2 methods x sync/async
    assert source.count("extra_body=extra_body,") == 2
    compile(source, "items.py", "exec")


def test_a_body_field_named_extra_body_gets_another_python_name(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    text = BASE.replace(
        "      size: {type: integer, default: 1}\n", "      extra_body: {type: string}\n"
    )
    out = tmp_path / "mini_sdk"
    generate(write_manifest(text), out)
    source = (out / "items.py").read_text()
    create_item = _kwonly(_method(source, "create_item"))
    assert "extra_body_" in create_item
    assert create_item.count("extra_body") == 1  # the escape hatch itself, once
    assert 'wire={"extra_body_": "extra_body"}' in source  # still sent under its wire name


@pytest.mark.parametrize("name", ["extra_query", "extra_body"])
def test_a_query_parameter_cannot_take_the_name_of_an_escape_hatch(
    write_manifest: Callable[[str], Path], tmp_path: Path, name: str
) -> None:
    text = BASE.replace(
        "        path_params: {item_id: {schema: {type: string}}}\n",
        "        path_params: {item_id: {schema: {type: string}}}\n"
        f"        query:\n          {name}: {{schema: {{type: string}}}}\n",
        1,
    )
    path = write_manifest(text)
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if f"{name}:" in t)
    with pytest.raises(ManifestError) as info:
        generate(path, tmp_path / "mini_sdk")
    message = str(info.value)
    assert re.search(rf"manifest\.yaml:{line}\b", message), message
    assert f"`{name}` is not usable as a Python argument" in message
    assert f"`name: {name}_`" in message


def test_a_generated_method_sends_both_escape_hatches(
    write_manifest: Callable[[str], Path], tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    out = tmp_path / "mini_extras_sdk"
    generate(write_manifest(BASE), out)
    importer = import_from(out)
    sdk = next(importer)
    try:
        httpx_mock.add_response(json={"id": "i1", "name": "a"})
        with sdk.MiniAPI(base_url="https://mini.example.test") as client:
            item = client.items.create_item(
                name="a", extra_query={"beta": "1"}, extra_body={"size": 7, "tag": "x"}
            )
        assert item.id == "i1"
        (request,) = httpx_mock.get_requests()
        assert request.url.params["beta"] == "1"
        assert json.loads(request.content) == {"name": "a", "size": 7, "tag": "x"}
    finally:
        importer.close()


# -- body: form ----------------------------------------------------------------------------------

FORM_ENDPOINT = """\
      login:
        method: POST
        path: /login
        body: form
        request: Login
        response: Item
"""
LOGIN_SCHEMA = """\
  Login:
    type: object
    properties:
      user: {type: string}
      scopes: {type: array, items: {type: string}}
      remember: {type: boolean, default: false}
    required: [user]
"""


def _with_form(endpoint: str = FORM_ENDPOINT, schema: str = LOGIN_SCHEMA) -> str:
    text = BASE.replace("schemas:\n", endpoint + "schemas:\n" + schema, 1)
    assert endpoint in text
    return text


def test_a_form_endpoint_gets_typed_arguments_and_a_form_spec(
    write_manifest: Callable[[str], Path], tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    out = tmp_path / "mini_form_sdk"
    reference = tmp_path / "reference.md"
    generate(write_manifest(_with_form()), out, reference=reference)
    assert "body: form" in reference.read_text()
    endpoints = (out / "endpoints.py").read_text()
    assert 'body="form"' in endpoints
    assert 'content_type="application/x-www-form-urlencoded"' in endpoints
    login = _method((out / "items.py").read_text(), "login")
    assert _kwonly(login)[:3] == ["user", "scopes", "remember"]
    assert "extra_body" in _kwonly(login)
    importer = import_from(out)
    sdk = next(importer)
    try:
        httpx_mock.add_response(json={"id": "i1", "name": "a"})
        with sdk.MiniAPI(base_url="https://mini.example.test") as client:
            client.items.login(user="a b", scopes=["r", "w"], remember=True)
        (request,) = httpx_mock.get_requests()
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert request.content == b"user=a+b&scopes=r&scopes=w&remember=true"
    finally:
        importer.close()


@pytest.mark.parametrize(
    ("endpoint", "schema", "needle", "message"),
    [
        (
            FORM_ENDPOINT.replace("        request: Login\n", ""),
            LOGIN_SCHEMA,
            "body: form",
            "a `body: form` endpoint needs a `request:` schema",
        ),
        (
            FORM_ENDPOINT,
            LOGIN_SCHEMA.replace("{type: boolean, default: false}", "{type: object}"),
            "request: Login",
            "field `remember` of `Login` cannot be form-encoded",
        ),
        (
            FORM_ENDPOINT,
            LOGIN_SCHEMA.replace("items: {type: string}", "items: {$ref: '#/schemas/Item'}"),
            "request: Login",
            "field `scopes` of `Login` cannot be form-encoded",
        ),
        (
            FORM_ENDPOINT.replace("body: form\n", "body: form\n        content_type: text/plain\n"),
            LOGIN_SCHEMA,
            "content_type: text/plain",
            "a `body: form` endpoint is always `application/x-www-form-urlencoded`",
        ),
    ],
)
def test_a_form_endpoint_that_cannot_be_encoded_is_refused_with_file_line(
    write_manifest: Callable[[str], Path],
    tmp_path: Path,
    endpoint: str,
    schema: str,
    needle: str,
    message: str,
) -> None:
    path = write_manifest(_with_form(endpoint, schema))
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if needle in t)
    with pytest.raises(ManifestError) as info:
        generate(path, tmp_path / "mini_sdk")
    text = str(info.value)
    assert re.search(rf"manifest\.yaml:{line}\b[^\n]*{re.escape(message)}", text), text


def test_a_form_field_may_be_an_enum_reference(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    schema = LOGIN_SCHEMA.replace("{type: boolean, default: false}", "{$ref: '#/schemas/Mode'}")
    schema += "  Mode: {enum: [fast, slow]}\n"
    generate(write_manifest(_with_form(schema=schema)), tmp_path / "mini_sdk")
