"""A manifest that is an overlay on an OpenAPI document: the merge, the overlay's errors at
its own lines, and an SDK generated from document + overlay called over pytest-httpx."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytest_httpx import HTTPXMock
from sdkgen.codegen.errors import ManifestError, Problem
from sdkgen.codegen.generate import generate
from sdkgen.codegen.openapi.overlay import load_manifest
from sdkgen.codegen.validate import validate

DOCS = Path(__file__).resolve().with_name("openapi_docs")
OVERLAY = DOCS / "memo-overlay.yaml"
BASE_URL = "https://memo.example.test"


def _overlay(tmp_path: Path, text: str) -> Path:
    shutil.copy(DOCS / "memo-3.1.json", tmp_path / "memo-3.1.json")
    path = tmp_path / "overlay.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _problems(path: Path) -> list[Problem]:
    with pytest.raises(ManifestError) as info:
        validate(load_manifest(path))
    return info.value.problems


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


HEAD = """\
manifest_version: 1
openapi: memo-3.1.json
"""


# -- the merge ---------------------------------------------------------------------------------


def test_overlay_merges_into_the_documents_manifest() -> None:
    manifest = validate(load_manifest(OVERLAY))
    api = manifest.api
    assert api.name == "memo_board"  # from the document
    assert api.base_url == BASE_URL  # from the overlay
    assert api.futures is not None
    assert api.futures.poll_endpoint == "poll_export"
    assert set(manifest.resources) == {"memos", "jobs"}  # healthz skipped: `default` is empty
    assert manifest.resources["memos"].description == "Memos on the board."
    jobs = manifest.resources["jobs"]
    assert set(jobs.endpoints) == {"export_memos", "poll_export"}
    export = jobs.endpoints["export_memos"]
    assert export.future is not None
    assert (export.future.result, export.pool, export.request) == (
        "ExportResult",
        "slow",
        "ExportRequest",
    )
    assert jobs.endpoints["poll_export"].retry == "once"
    listing = manifest.resources["memos"].endpoints["list_memos"]
    assert listing.paginate is not None
    assert listing.paginate.total == "total"
    create = manifest.resources["memos"].endpoints["create_memo"]
    assert create.secret_headers == {"X-Memo-Signature": "signature"}
    assert create.timeout == 5
    assert "ExportFailure" in manifest.schemas
    assert manifest.schemas["Memo"]["properties"]["color"]["open"] is True
    assert manifest.schemas["Memo"]["properties"]["title"] == {"type": "string", "maxLength": 80}


def test_validator_problems_point_at_the_file_that_said_it(tmp_path: Path) -> None:
    path = _overlay(
        tmp_path,
        HEAD
        + """\
        endpoints:
          POST /api/v1/memos: {retry: patient}
        """,
    )
    path.write_text(path.read_text().replace("        ", ""))
    (problem,) = _problems(path)
    assert (problem.file, problem.line) == (str(path), _line_of(path, "retry: patient"))
    assert "unknown retry policy `patient`" in problem.message


def test_an_endpoint_override_declares_its_errors_and_path_params(tmp_path: Path) -> None:
    path = _overlay(
        tmp_path,
        HEAD
        + """\
api:
  errors: {default: Memo, message_field: title}
endpoints:
  POST /api/v1/memos:
    errors: {422: {schema: NewMemo, message_field: body}}
  get_memo_api_v1_memos__memo_id__get:
    path_params: {memo_id: {schema: {type: string}, allow_slash: true}}
""",
    )
    manifest = validate(load_manifest(path))
    get = next(
        ep
        for r in manifest.resources.values()
        for ep in r.endpoints.values()
        if ep.path == "/api/v1/memos/{memo_id}" and ep.method == "GET"
    )
    assert get.path_params["memo_id"].allow_slash is True
    create = next(
        ep
        for r in manifest.resources.values()
        for ep in r.endpoints.values()
        if ep.path == "/api/v1/memos" and ep.method == "POST"
    )
    assert create.errors is not None
    # A bad declaration is reported at the overlay's line.
    path.write_text(path.read_text().replace("schema: NewMemo", "schema: NoSuchMemo"))
    (problem,) = _problems(path)
    assert (problem.file, problem.line) == (str(path), _line_of(path, "NoSuchMemo"))


def test_names_the_overlay_gives_are_checked_at_its_lines(tmp_path: Path) -> None:
    path = _overlay(
        tmp_path,
        HEAD
        + """\
endpoints:
  POST /api/v1/memos: {name: Create-Memo}
resources:
  client: {endpoints: [GET /api/v1/memos]}
""",
    )
    found = {p.line: p.message for p in _problems(path)}
    assert "must be snake_case" in found[_line_of(path, "name: Create-Memo")]
    assert "resource name `client` is taken" in found[_line_of(path, "client:")]


def test_a_problem_in_the_document_points_into_the_document(tmp_path: Path) -> None:
    doc = json.loads((DOCS / "memo-3.1.json").read_text())
    doc["components"]["schemas"]["NewMemo"]["properties"]["title"]["default"] = ""
    path = _overlay(tmp_path, HEAD)
    (tmp_path / "memo-3.1.json").write_text(json.dumps(doc, indent=2))
    (problem,) = _problems(path)
    assert problem.file == str(tmp_path / "memo-3.1.json")
    assert problem.line == _line_of(tmp_path / "memo-3.1.json", '"default": ""')
    assert "violates its own schema" in problem.message


# -- overlay errors ----------------------------------------------------------------------------


BAD = """\
manifest_version: 1
openapi: memo-3.1.json
colour: blue
endpoints:
  list_memo_api_v1_memos_get: {timeout: 3}
  GET /api/v1/memo: {timeout: 3}
  POST /api/v1/memos: {retries: 3}
  DELETE /api/v1/memos/{memo_id}: {name: get_memo}
resources:
  archive: {description: Old memos.}
  jobs: {endpoints: [POST /api/v1/export], colour: red}
schemas:
  Memo: {type: object}
schema_overrides:
  Memos: {description: x}
  User:
    properties:
      mail: {type: string}
"""


def test_every_bad_overlay_key_is_an_error_at_its_line_with_the_fix(tmp_path: Path) -> None:
    path = _overlay(tmp_path, BAD)
    problems = _problems(path)
    found = {(p.line, p.path): p.message for p in problems}
    assert all(p.file == str(path) for p in problems)

    def at(text: str, key: str) -> str:
        return found[(_line_of(path, text), key)]

    assert "unknown overlay key `colour`" in at("colour: blue", "colour")
    # An operationId or `METHOD /path` the document does not have, with a suggestion.
    message = at("list_memo_api", "endpoints.list_memo_api_v1_memos_get")
    assert "no operation `list_memo_api_v1_memos_get`" in message
    assert "did you mean `list_memos_api_v1_memos_get`" in message
    assert "did you mean `GET /api/v1/memos`" in at(
        "GET /api/v1/memo:", "endpoints.GET /api/v1/memo"
    )
    assert "unknown endpoint override key `retries`" in at(
        "retries: 3", "endpoints.POST /api/v1/memos.retries"
    )
    assert "endpoint `get_memo` already exists" in at(
        "name: get_memo", "endpoints.DELETE /api/v1/memos/{memo_id}.name"
    )
    assert "no resource `archive`" in at("archive:", "resources.archive")
    assert "did you mean `POST /api/v1/exports`" in at(
        "POST /api/v1/export]", "resources.jobs.endpoints[0]"
    )
    assert "unknown resource key `colour`" in at("colour: red", "resources.jobs.colour")
    assert "already has schema `Memo`" in at("Memo: {type", "schemas.Memo")
    assert "no schema `Memos`" in at("Memos:", "schema_overrides.Memos")
    assert "no property `mail`" in at("mail:", "schema_overrides.User.properties.mail")
    assert len(problems) == 11


def test_missing_document_is_an_error_at_the_openapi_key(tmp_path: Path) -> None:
    path = tmp_path / "overlay.yaml"
    path.write_text("manifest_version: 1\nopenapi: nowhere.json\n")
    (problem,) = _problems(path)
    assert (problem.line, problem.path) == (2, "openapi")
    assert "no OpenAPI document" in problem.message


# -- a generated SDK from document + overlay -----------------------------------------------------


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    out = tmp_path_factory.mktemp("overlay_sdk") / "memo_sdk"
    generate(OVERLAY, out)
    sys.path.insert(0, str(out.parent))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("memo_sdk")
    finally:
        sys.path.remove(str(out.parent))
        for name in [n for n in sys.modules if n.split(".")[0] == "memo_sdk"]:
            del sys.modules[name]


@pytest.fixture
def board(sdk: ModuleType) -> Iterator[Any]:
    with sdk.MemoBoard(base_url=BASE_URL, api_key="memo-key") as client:
        yield client


def _memo(n: int) -> dict[str, Any]:
    return {"id": f"m{n}", "title": f"memo {n}", "kind": "memo", "color": "green"}


def test_sdk_calls_send_what_the_document_and_overlay_say(
    sdk: ModuleType, board: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        method="POST", url=f"{BASE_URL}/api/v1/memos", json=_memo(1), status_code=201
    )
    memo = board.memos.create_memo(title="memo 1", signature="sig-1")
    assert isinstance(memo, sdk.models.Memo)
    assert memo.color == "green"  # `open: true` from the overlay: an unknown value is kept
    (request,) = httpx_mock.get_requests()
    assert json.loads(request.content) == {"title": "memo 1", "pinned": False}
    assert request.headers["X-Memo-Key"] == "memo-key"
    assert request.headers["X-Memo-Signature"] == "sig-1"
    assert "Idempotency-Key" in request.headers


def test_sdk_pages_through_a_listing(board: Any, httpx_mock: HTTPXMock) -> None:
    for offset, items in ((0, [_memo(1), _memo(2)]), (2, [_memo(3)])):
        httpx_mock.add_response(
            url=f"{BASE_URL}/api/v1/memos?limit=2&offset={offset}",
            json={"items": items, "total": 3},
        )
    assert [m.id for m in board.memos.iter_list_memos(limit=2)] == ["m1", "m2", "m3"]


def test_sdk_future_polls_until_the_result(
    sdk: ModuleType, board: Any, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(
        url=f"{BASE_URL}/api/v1/exports", json={"export_id": "e1", "status": "queued"}
    )
    poll = f"{BASE_URL}/api/v1/exports/poll"
    httpx_mock.add_response(url=poll, json={"status": "queued"})
    httpx_mock.add_response(url=poll, json={"status": "running"})
    httpx_mock.add_response(url=poll, json={"url": "https://files.test/e1.zip", "count": 2})
    handle = board.jobs.export_memos(memo_ids=["m1", "m2"])
    result = handle.result(timeout=10)
    assert isinstance(result, sdk.models.ExportResult)
    assert (result.url, result.count) == ("https://files.test/e1.zip", 2)
    polls = [r for r in httpx_mock.get_requests() if r.url == poll]
    assert [json.loads(r.content) for r in polls] == [{"export_id": "e1"}] * 3


def test_sdk_future_failure_is_raised(sdk: ModuleType, board: Any, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(url=f"{BASE_URL}/api/v1/exports", json={"export_id": "e2"})
    httpx_mock.add_response(url=f"{BASE_URL}/api/v1/exports/poll", json={"error": "disk full"})
    handle = board.jobs.export_memos(memo_ids=["m1"])
    with pytest.raises(Exception, match="disk full"):
        handle.result(timeout=10)
