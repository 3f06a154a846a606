"""Issue 11, point 3: `body: multipart`. File fields become `FileInput` arguments and stay
unvalidated in the model (the runtime checks them); text fields keep their types; impossible
declarations are refused with file:line; a generated SDK sends the parts."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError
from tests.codegen.conftest import BASE
from tests.runtime._multipart_support import split_parts
from tests.sibling.conftest import import_from

UPLOAD_ENDPOINT = """\
      upload:
        method: POST
        path: /upload
        body: multipart
        request: Upload
        response: Item
"""
UPLOAD_SCHEMA = """\
  Upload:
    type: object
    properties:
      file: {type: string, format: binary, description: The file to store.}
      attachments: {type: array, items: {type: string, format: binary}}
      note: {type: string, maxLength: 10}
      tags: {type: array, items: {type: string}}
      public: {type: boolean, default: false}
    required: [file]
"""


def _with_upload(endpoint: str = UPLOAD_ENDPOINT, schema: str = UPLOAD_SCHEMA) -> str:
    text = BASE.replace("schemas:\n", endpoint + "schemas:\n" + schema, 1)
    assert endpoint in text
    assert schema in text
    return text


def _annotations(source: str, name: str) -> dict[str, str]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return {a.arg: ast.unparse(a.annotation) for a in node.args.kwonlyargs if a.annotation}
    raise AssertionError(name)


def test_file_fields_are_typed_file_input_and_the_spec_lists_them(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "mini_mp_sdk"
    reference = tmp_path / "reference.md"
    generate(write_manifest(_with_upload()), out, reference=reference)
    assert "body: multipart" in reference.read_text()
    args = _annotations((out / "items.py").read_text(), "upload")
    assert args["file"] == "FileInput"
    assert args["attachments"] == "list[FileInput] | NotGiven"
    assert args["note"] == "str | NotGiven"
    assert args["public"] == "bool | NotGiven"
    assert "extra_body" in args
    endpoints = (out / "endpoints.py").read_text()
    assert 'body="multipart"' in endpoints
    assert 'file_fields=("file", "attachments")' in endpoints
    assert "content_type=" not in endpoints.split("UPLOAD = ")[1].split(")")[0]
    models = (out / "models.py").read_text()
    upload = models.split("class Upload(")[1].split("\nclass ")[0]
    assert re.search(r"\n    file: Any\n", upload), upload  # checked by the runtime instead
    assert "attachments: list[Any] | None" in upload
    assert "max_length=10" in upload


def test_a_generated_sdk_sends_files_and_fields_as_parts(
    write_manifest: Callable[[str], Path], tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    out = tmp_path / "mini_mp_send_sdk"
    generate(write_manifest(_with_upload()), out)
    data = tmp_path / "photo.jpg"
    data.write_bytes(b"\xff\xd8jpeg")
    importer = import_from(out)
    sdk = next(importer)
    try:
        httpx_mock.add_response(json={"id": "i1", "name": "a"})
        with sdk.MiniAPI(base_url="https://mini.example.test") as client:
            item = client.items.upload(
                file=data, attachments=[b"a", ("b.txt", b"b", "text/plain")], tags=["x"]
            )
            assert item.id == "i1"
            with pytest.raises(ValueError, match=r"max_length|at most 10"):
                client.items.upload(file=b"x", note="far too long a note")
        (request,) = httpx_mock.get_requests()
        parts = split_parts(request.headers["Content-Type"], request.read())
        assert [(p.name, p.filename, p.data) for p in parts] == [
            ("file", "photo.jpg", b"\xff\xd8jpeg"),
            ("attachments", "attachments", b"a"),
            ("attachments", "b.txt", b"b"),
            ("tags", None, b"x"),
            ("public", None, b"false"),
        ]
    finally:
        importer.close()


@pytest.mark.parametrize(
    ("endpoint", "schema", "needle", "message"),
    [
        (
            UPLOAD_ENDPOINT.replace("        request: Upload\n", ""),
            UPLOAD_SCHEMA,
            "body: multipart",
            "a `body: multipart` endpoint needs a `request:` schema",
        ),
        (
            UPLOAD_ENDPOINT.replace(
                "body: multipart\n", "body: multipart\n        content_type: text/plain\n"
            ),
            UPLOAD_SCHEMA,
            "content_type: text/plain",
            "a `body: multipart` endpoint is always `multipart/form-data`",
        ),
        (
            UPLOAD_ENDPOINT.replace(
                "body: multipart\n", "body: multipart\n        compress: zstd\n"
            ),
            UPLOAD_SCHEMA,
            "compress: zstd",
            "cannot be compressed",
        ),
        (
            UPLOAD_ENDPOINT,
            UPLOAD_SCHEMA.replace("{type: boolean, default: false}", "{type: object}"),
            "public: {type: object}",
            "field `public` of `Upload` (the multipart body of `upload`) cannot be a part",
        ),
        (
            UPLOAD_ENDPOINT,
            UPLOAD_SCHEMA.replace("items: {type: string}}", "items: {$ref: '#/schemas/Item'}}"),
            "tags: {type: array",
            "field `tags` of `Upload` (the multipart body of `upload`) cannot be a part",
        ),
    ],
)
def test_an_impossible_multipart_endpoint_is_refused_with_file_line(
    write_manifest: Callable[[str], Path],
    tmp_path: Path,
    endpoint: str,
    schema: str,
    needle: str,
    message: str,
) -> None:
    path = write_manifest(_with_upload(endpoint, schema))
    line = next(n for n, t in enumerate(path.read_text().splitlines(), 1) if needle in t)
    with pytest.raises(ManifestError) as info:
        generate(path, tmp_path / "mini_sdk")
    text = str(info.value)
    assert re.search(rf"manifest\.yaml:{line}\b[^\n]*{re.escape(message)}", text), text


def test_a_json_endpoint_keeps_format_binary_as_before(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    # Only a multipart body's file fields change type; the same schema elsewhere does not.
    text = _with_upload(UPLOAD_ENDPOINT.replace("body: multipart", "body: json"))
    out = tmp_path / "mini_json_sdk"
    generate(write_manifest(text), out)
    assert "FileInput" not in (out / "items.py").read_text()
    assert "file: Any" not in (out / "models.py").read_text()
