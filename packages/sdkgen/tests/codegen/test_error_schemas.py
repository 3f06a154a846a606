"""Issue 11, point 3: declared error schemas (`errors:` on the API and on endpoints). What the
specs say (message paths resolved: own, the map's, the API's), a generated SDK raising the
usual error class with the parsed body, and every impossible declaration refused with
file:line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.codegen import generate
from sdkgen.codegen.errors import ManifestError
from tests.codegen.conftest import BASE
from tests.sibling.conftest import import_from

API_ERRORS = """\
  errors:
    message_field: error.message
    default: ErrorBody
    4xx: {schema: ClientError, message_field: reason}
"""
GET_ERRORS = """\
        errors:
          404: {schema: NotFound, message_field: detail.text}
          409: ErrorBody
"""
ERROR_SCHEMAS = """\
  ErrorBody:
    type: object
    properties:
      error:
        type: object
        properties:
          message: {type: string}
          severity: {enum: [low, high]}
        required: [message]
    required: [error]
  ClientError:
    type: object
    properties:
      reason: {type: string}
    required: [reason]
  NotFound:
    type: object
    properties:
      detail: {$ref: '#/schemas/Detail'}
    required: [detail]
  Detail:
    type: object
    properties:
      text: {type: string}
"""


def _manifest(
    api_errors: str = API_ERRORS, get_errors: str = GET_ERRORS, schemas: str = ERROR_SCHEMAS
) -> str:
    text = BASE.replace("  pools:\n", api_errors + "  pools:\n", 1)
    text = text.replace("        response: Item\n", "        response: Item\n" + get_errors, 1)
    text = text.replace("schemas:\n", "schemas:\n" + schemas, 1)
    for part in (api_errors, get_errors, schemas):
        assert part in text
    return text


def test_the_specs_carry_the_shapes_with_their_message_paths(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "mini_err_sdk"
    generate(write_manifest(_manifest()), out)
    api = (out / "api.py").read_text()
    compact = " ".join(api.split())
    assert (
        'errors=ErrorSchemas( { "default": ErrorShape(models.ErrorBody, "error.message"), '
        '"4xx": ErrorShape(models.ClientError, "reason"), } )'
    ) in compact
    endpoints = " ".join((out / "endpoints.py").read_text().split())
    # get_item's own 404 path; its 409 entry takes the API's message_field.
    assert (
        'errors=ErrorSchemas( { 404: ErrorShape(models.NotFound, "detail.text"), '
        '409: ErrorShape(models.ErrorBody, "error.message"), } )'
    ) in endpoints
    assert endpoints.count("errors=") == 1  # create_item declares none
    # Error bodies come from the server: their enums are open, unknown fields ignored.
    models = (out / "models.py").read_text()
    assert 'severity: Literal["low", "high"] | str | None' in models


def test_without_errors_the_specs_import_nothing_new(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "mini_plain_sdk"
    generate(write_manifest(BASE), out)
    for name in ("api.py", "endpoints.py"):
        source = (out / name).read_text()
        assert "ErrorSchemas" not in source
        assert "from . import models" not in source


def test_a_generated_sdk_raises_the_usual_class_with_the_parsed_body(
    write_manifest: Callable[[str], Path], tmp_path: Path, httpx_mock: HTTPXMock
) -> None:
    out = tmp_path / "mini_err_run_sdk"
    generate(write_manifest(_manifest()), out)
    importer = import_from(out)
    sdk = next(importer)
    try:
        from sdkgen.runtime import BadRequestError, InternalServerError, NotFoundError

        httpx_mock.add_response(status_code=404, json={"detail": {"text": "no item x"}})
        httpx_mock.add_response(status_code=400, json={"reason": "name too long"})
        httpx_mock.add_response(status_code=500, json={"error": {"message": "db down"}})
        httpx_mock.add_response(status_code=500, json={"error": {"message": "db down"}})
        with sdk.MiniAPI(base_url="https://mini.example.test") as client:
            with pytest.raises(NotFoundError) as missing:
                client.items.get_item("x")
            with pytest.raises(BadRequestError) as bad:
                client.items.create_item(name="a")
            with pytest.raises(InternalServerError) as down:
                client.items.create_item(name="a")
        assert isinstance(missing.value.parsed, sdk.models.NotFound)
        assert missing.value.message == "no item x"
        assert isinstance(bad.value.parsed, sdk.models.ClientError)
        assert bad.value.message == "name too long"
        assert down.value.parsed.error.message == "db down"
        assert down.value.message == "db down"
    finally:
        importer.close()


@pytest.mark.parametrize(
    ("api_errors", "get_errors", "needle", "message"),
    [
        (API_ERRORS.replace("default: ErrorBody", "default: ErrorBodyy"), GET_ERRORS,
         "default: ErrorBodyy", "unknown schema `ErrorBodyy`"),
        (API_ERRORS, GET_ERRORS.replace("schema: NotFound,", "schema: Nope,"),
         "schema: Nope", "unknown schema `Nope`"),
        (API_ERRORS, GET_ERRORS.replace("409: ErrorBody", "299: ErrorBody"),
         "299: ErrorBody", "`299` is not an error status"),
        (API_ERRORS.replace("4xx:", "6xx:"), GET_ERRORS, "6xx:", "`6xx` is not an error status"),
        (API_ERRORS, GET_ERRORS.replace("409: ErrorBody", "sometimes: ErrorBody"),
         "sometimes: ErrorBody", "`sometimes` is not an error status"),
        (API_ERRORS, GET_ERRORS.replace("message_field: detail.text", "message_field: detail.txt"),
         "message_field: detail.txt", "message field `detail.txt` is not a field of `NotFound`"),
        (API_ERRORS.replace("message_field: error.message", "message_field: error.msg"), "",
         "message_field: error.msg", "message field `error.msg` is not a field of `ErrorBody`"),
        (API_ERRORS, GET_ERRORS.replace("409: ErrorBody", "409: ClientError"),
         "409: ClientError",
         "message field `error.message` (the API's `errors.message_field`) is not a field of "
         "`ClientError`"),
        (API_ERRORS.replace("message_field: error.message", "message_field: error..message"), "",
         "message_field: error..message", "`message_field` is a dotted path"),
        (API_ERRORS, "        errors:\n          message_field: error.message\n",
         "          message_field: error.message", "declares no error schema"),
    ],
)  # fmt: skip
def test_an_impossible_error_declaration_is_refused_with_file_line(
    write_manifest: Callable[[str], Path],
    tmp_path: Path,
    api_errors: str,
    get_errors: str,
    needle: str,
    message: str,
) -> None:
    path = write_manifest(_manifest(api_errors, get_errors))
    lines = path.read_text().splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.startswith(needle) or needle in t)
    if message == "declares no error schema":
        line -= 1  # the `errors:` key itself
    with pytest.raises(ManifestError) as info:
        generate(path, tmp_path / "mini_sdk")
    text = str(info.value)
    assert re.search(rf"manifest\.yaml:{line}\b[^\n]*{re.escape(message)}", text), text


def test_an_unquoted_status_key_is_read_as_its_text(
    write_manifest: Callable[[str], Path], tmp_path: Path
) -> None:
    # `404:` is a YAML integer; elsewhere a non-string key is still refused.
    text = _manifest().replace("  Item:\n", "  Odd:\n    type: object\n    properties:\n"
                               "      0x1f: {type: string}\n  Item:\n", 1)  # fmt: skip
    path = write_manifest(text)
    with pytest.raises(ManifestError) as info:
        generate(path, tmp_path / "mini_sdk")
    assert "a mapping key must be a string, not a" in str(info.value)
    assert "404" not in str(info.value)
