"""Issue 11, point 3: binary responses (`response: binary`), header and cookie parameters
(`in: header|cookie` on a `query:` entry) and Python-name aliases (`name:`) for wire names
that are not identifiers. What the manifest accepts, what it refuses (with file:line), and
what is generated."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError

FILES = """\
manifest_version: 1
api:
  name: files
  title: Files
  client_class: FilesAPI
  version: "1"
  base_url: https://files.example.test
  auth: {header: X-Files-Key, env: FILES_KEY}
  idempotency_header: Idempotency-Key
  retry_policies:
    default: {max_retries: 1}
  pools:
    default: {max_connections: 4}
    downloads: {max_connections: 2, follow_redirects: true}
resources:
  files:
    endpoints:
      download:
        method: GET
        path: /files/{file_id}/content
        path_params: {file_id: {schema: {type: string}}}
        query:
          if-version: {in: header, name: if_version, schema: {type: integer, minimum: 1}}
          session: {in: cookie, schema: {type: string}}
          x-trace: {in: header, name: trace, schema: {type: string}, required: true}
          range: {schema: {type: string}}
        response: binary
        pool: downloads
        max_response_bytes: 1048576
      stat:
        method: GET
        path: /files/{file_id}
        path_params: {file_id: {schema: {type: string}}}
        query:
          mode: {in: header, name: mode, schema: {enum: [fast, full], default: fast}}
        response: FileInfo
      list_files:
        method: GET
        path: /files
        query:
          limit: {schema: {type: integer, default: 10}}
          offset: {schema: {type: integer, default: 0}}
          x-tenant: {in: header, name: tenant, schema: {type: string}}
        response: FilePage
        paginate: {items: data, limit: limit, offset: offset, total: total}
schemas:
  FilePage:
    type: object
    properties:
      data: {type: array, items: {$ref: '#/schemas/FileInfo'}}
      total: {type: integer}
    required: [data]
  FileInfo:
    type: object
    properties:
      size: {type: integer}
    required: [size]
"""


@pytest.fixture
def files_manifest(tmp_path: Path) -> Callable[..., Path]:
    def write(*replace: tuple[str, str]) -> Path:
        text = FILES
        for old, new in replace:
            assert old in text, old
            text = text.replace(old, new, 1)
        path = tmp_path / "files.yaml"
        path.write_text(text)
        return path

    return write


def _problems(path: Path, out: Path) -> str:
    with pytest.raises(ManifestError) as info:
        generate(path, out)
    return str(info.value)


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_binary_endpoints_and_header_params_are_generated(
    files_manifest: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "files_sdk"
    generate(files_manifest(), out)
    resource = (out / "files.py").read_text()
    ast.parse(resource)
    # The bytes method, and its streaming twin, in both variants.
    assert re.search(r"    def download\(\n        self,\n        file_id: str,", resource)
    assert "    ) -> bytes:" in resource
    assert "    def stream_download(" in resource
    assert ") -> BinaryStream:" in resource
    assert "    async def stream_download(" in resource
    assert ") -> AsyncBinaryStream:" in resource
    assert "return read_binary(" in resource
    assert "return await open_binary(" in resource
    # Aliased Python names in the signature, wire names on the wire.
    assert "if_version: int | None = None," in resource
    assert "trace: str," in resource
    assert '"if-version": _p["if_version"]' in resource
    assert '"x-trace": _p["trace"]' in resource
    assert '{"session": _p["session"]}' in resource
    assert 'query={"range": _p["range"]}' in resource
    # Validated with the other parameters, under their Python names.
    params = (out / "params.py").read_text()
    assert "if_version: Annotated[int, Field(ge=1)] | None = None" in params
    assert "trace: str" in params
    endpoints = (out / "endpoints.py").read_text()
    assert "accept='*/*'" in endpoints or 'accept="*/*"' in endpoints
    # An endpoint without header parameters passes the caller's extra headers as they are.
    # The pages' iterator takes them too.
    pages = resource[resource.index("def iter_list_files(") : resource.index("class AsyncFiles")]
    assert "tenant: str | None = None," in pages
    assert '{"x-tenant": _p["tenant"]}' in pages
    stat = resource[resource.index("def stat(") : resource.index("def list_files(")]
    assert "param_headers(" in stat
    assert "extra_headers=extra_headers" not in stat


def test_the_reference_names_where_each_parameter_travels(
    files_manifest: Callable[..., Path], tmp_path: Path
) -> None:
    reference = tmp_path / "reference.md"
    generate(files_manifest(), tmp_path / "files_sdk", reference=reference)
    text = reference.read_text()
    assert "| `if-version` | header |" in text
    assert "| `session` | cookie |" in text
    assert "| `range` | query |" in text
    assert "| bytes |" in text  # a binary response links to no schema


def test_a_manifest_without_these_keys_generates_no_new_names(tmp_path: Path) -> None:
    mini = Path(__file__).parent / "golden" / "mini.yaml"
    out = tmp_path / "mini_sdk"
    generate(mini, out)
    for path in out.glob("*.py"):
        text = path.read_text()
        for name in ("param_headers", "read_binary", "open_binary", "BinaryStream"):
            assert name not in text, (path.name, name)


@pytest.mark.parametrize(
    ("replace", "needle", "message"),
    [
        (
            ("if-version: {in: header, name: if_version,", "if-version: {in: header,"),
            "if-version:",
            "parameter name `if-version` is not usable as a Python argument: keep it as the "
            "wire name and add `name: if_version`",
        ),
        (
            ("name: if_version,", "name: timeout,"),
            "if-version:",
            "`name: timeout` is not usable as a Python argument",
        ),
        (
            ("name: trace,", "name: session,"),
            "x-trace:",
            "argument `session` is taken by another parameter or body field",
        ),
        (
            ("x-trace: {in: header,", "X-Files-Key: {in: header,"),
            "X-Files-Key:",
            "header `X-Files-Key` collides with a header `api.auth.header` sets",
        ),
        (
            ("x-trace: {in: header,", "idempotency-key: {in: header,"),
            "idempotency-key:",
            "collides with a header `api.idempotency_header` sets",
        ),
        (
            ("x-trace: {in: header,", "Content-Type: {in: header,"),
            "Content-Type:",
            "header `Content-Type` collides with a header the runtime sets",
        ),
        (
            ("x-trace: {in: header,", "If-Version: {in: header,"),
            "If-Version:",
            "header `If-Version` is already the parameter `if-version`",
        ),
        (
            ("session: {in: cookie,", '"sess ion": {in: cookie, name: sess,'),
            "sess ion",
            "`sess ion` is not a valid cookie name",
        ),
        (
            (
                "session: {in: cookie, schema: {type: string}}",
                "session: {in: cookie, schema: {type: array}}",
            ),
            "session:",
            "a cookie parameter is a single value: use a scalar schema",
        ),
        (
            (
                "file_id: {schema: {type: string}}}\n        query:\n          if",
                "file_id: {in: header, schema: {type: string}}}\n        query:\n          if",
            ),
            "file_id: {in: header",
            "a path parameter is in the path; `in` is for `query:` entries",
        ),
        (
            ("offset: {schema:", "offset: {in: header, schema:"),
            "paginate:",
            "`offset` is not a query parameter",
        ),
        (
            ("session: {in: cookie,", "session: {in: body,"),
            "session:",
            "session.in",
        ),
        (
            (
                "        response: binary\n",
                "        response: binary\n        paginate: {items: a, limit: b, offset: c, total: d}\n",
            ),
            "paginate:",
            "`paginate` cannot be combined with `response: binary`",
        ),
        (
            ("      stat:\n", "      stream_download:\n"),
            "response: binary",
            "`response: binary` also emits `stream_download`, the name of another endpoint here",
        ),
    ],
)
def test_bad_parameters_and_binary_responses_are_refused_with_their_line(
    files_manifest: Callable[..., Path],
    tmp_path: Path,
    replace: tuple[str, str],
    needle: str,
    message: str,
) -> None:
    path = files_manifest(replace)
    problems = _problems(path, tmp_path / "out")
    assert message in problems, problems
    assert f"files.yaml:{_line_of(path, needle)}:" in problems, problems
