"""OpenAPI 3.0 / 3.1 documents in: the manifest data they become, the notes on what was left
out, located problems, and the bootstrap YAML (``python -m sdkgen import``) that loads,
validates and generates."""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sdkgen.codegen.__main__ import main
from sdkgen.codegen.errors import ManifestError
from sdkgen.codegen.generate import generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.openapi.operations import Translation, translate_document
from sdkgen.codegen.openapi.source import read_document
from sdkgen.codegen.validate import validate

DOCS = Path(__file__).resolve().with_name("openapi_docs")
PANTRY = DOCS / "pantry-3.0.yaml"
MEMO = DOCS / "memo-3.1.json"


def _translate(path: Path) -> Translation:
    return translate_document(read_document(path))


@pytest.fixture(scope="module")
def pantry() -> Translation:
    return _translate(PANTRY)


@pytest.fixture(scope="module")
def memo() -> Translation:
    return _translate(MEMO)


def _endpoint(t: Translation, eid: str) -> dict[str, Any]:
    for resource in t.loaded.data["resources"].values():
        if eid in resource["endpoints"]:
            return resource["endpoints"][eid]  # type: ignore[no-any-return]
    raise AssertionError(f"no endpoint {eid}")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# -- api, auth, grouping and names ------------------------------------------------------------


def test_api_metadata_and_server_variables(pantry: Translation) -> None:
    api = pantry.loaded.data["api"]
    assert api["name"] == "pantry_service"
    assert api["client_class"] == "PantryService"
    assert api["version"] == "2.4"
    assert api["base_url"] == "https://eu.pantry.example.test/v2"
    assert api["retry_policies"] == {"default": {}}


def test_resources_from_tags_then_path_and_ids_from_operation_ids(pantry: Translation) -> None:
    resources = pantry.loaded.data["resources"]
    assert set(resources["items"]["endpoints"]) == {
        "list_items", "create_item", "get_item", "delete_item", "get_item_photo", "set_label",
    }  # fmt: skip
    assert resources["items"]["description"] == "What is on the shelves."
    assert set(resources["accounts"]["endpoints"]) == {"get_token", "upload_avatar"}
    assert set(resources["shelf"]["endpoints"]) == {"follow_shelf"}  # first path segment
    assert set(resources["default"]["endpoints"]) == {"post_search"}  # no operationId


def test_fastapi_operation_ids_lose_their_path_and_method(memo: Translation) -> None:
    resources = memo.loaded.data["resources"]
    assert set(resources["memos"]["endpoints"]) == {
        "list_memos", "create_memo", "get_memo", "update_memo", "delete_memo",
    }  # fmt: skip
    assert set(resources["exports"]["endpoints"]) == {"create_export", "poll_export"}
    assert set(resources["default"]["endpoints"]) == {"healthz"}  # alone under /api/v1


def test_duplicate_ids_and_reserved_resources_are_renamed(tmp_path: Path) -> None:
    doc = _write(
        tmp_path,
        "dup.yaml",
        """\
        openapi: 3.0.0
        info: {title: Dup, version: "1"}
        paths:
          /models/a: {get: {operationId: fetch, responses: {'204': {description: x}}}}
          /models/b: {get: {operationId: fetch, responses: {'204': {description: x}}}}
        """,
    )
    resources = _translate(doc).loaded.data["resources"]
    assert set(resources) == {"models_resource"}  # `models` is the generated module
    assert set(resources["models_resource"]["endpoints"]) == {"fetch", "fetch_2"}


def test_security_schemes_become_credentials(tmp_path: Path) -> None:
    doc = _write(
        tmp_path,
        "auth.yaml",
        """\
        openapi: 3.0.0
        info: {title: Vault, version: "1"}
        paths: {}
        components:
          securitySchemes:
            key: {type: apiKey, in: header, name: X-Key}
            token: {type: http, scheme: bearer}
            login: {type: http, scheme: basic}
            qkey: {type: apiKey, in: query, name: k}
            crumb: {type: apiKey, in: cookie, name: c}
            sso: {type: openIdConnect, openIdConnectUrl: https://id.example.test}
        """,
    )
    t = _translate(doc)
    assert t.loaded.data["api"]["auth"] == [
        {"header": "X-Key", "env": "VAULT_KEY"},
        {"scheme": "bearer", "header": "Authorization", "env": "VAULT_TOKEN"},
        {"scheme": "query", "query": "k", "env": "VAULT_QKEY"},
    ]
    notes = "\n".join(t.notes)
    assert "`login` left out: another one uses the same place" in notes  # Authorization again
    assert "`crumb` left out: the manifest cannot send it" in notes
    assert "`sso` left out" in notes


# -- parameters, bodies, responses -------------------------------------------------------------


def test_parameters_with_locations_aliases_and_refs(pantry: Translation) -> None:
    query = _endpoint(pantry, "list_items")["query"]
    assert query["limit"] == {"schema": {"type": "integer", "default": 20, "minimum": 1}}
    assert query["tag"]["schema"] == {"type": "array", "items": {"type": "string"}}
    assert query["X-Trace-Id"] == {
        "schema": {"type": "string"},
        "in": "header",
        "name": "x_trace_id",
    }
    assert query["shelf"] == {"schema": {"type": "string"}, "required": True, "in": "cookie"}
    assert query["timeout"]["name"] == "timeout_"  # the method's own `timeout`
    assert "Accept" not in query
    assert "filter" not in query
    path_param = _endpoint(pantry, "get_item")["path_params"]["item-id"]
    assert path_param["name"] == "item_id"
    assert path_param["description"] == "The item's id."
    assert path_param["schema"]["pattern"] == "^[a-z0-9-]+$"


def test_bodies_json_form_raw_and_responses(pantry: Translation) -> None:
    schemas = pantry.loaded.data["schemas"]
    create = _endpoint(pantry, "create_item")
    assert (create["request"], create["response"]) == ("NewItem", "Item")
    assert "idempotent" not in create
    token = _endpoint(pantry, "get_token")
    assert token["body"] == "form"
    assert schemas[token["request"]]["required"] == ["grant_type"]
    avatar = _endpoint(pantry, "upload_avatar")
    # multipart/form-data of files and values: the kit's multipart body, `format: binary` kept.
    assert (avatar["body"], avatar["request"]) == ("multipart", "UploadAvatarRequest")
    assert "content_type" not in avatar
    assert schemas["UploadAvatarRequest"]["properties"]["file"] == {
        "type": "string",
        "format": "binary",
    }
    assert "response" not in avatar  # 204
    assert _endpoint(pantry, "get_item_photo")["response"] == "binary"
    assert _endpoint(pantry, "follow_shelf")["stream"] == {"format": "sse", "event": "ShelfEvent"}
    search = _endpoint(pantry, "post_search")
    assert schemas[search["request"]]["properties"]["kinds"]["items"] == {"$ref": "#/schemas/Kind"}
    assert schemas[search["response"]] == {"type": "array", "items": {"type": "string"}}
    delete = _endpoint(pantry, "delete_item")
    assert delete["deprecated"] is True
    assert delete["idempotent"] is True


# -- schemas -----------------------------------------------------------------------------------


def test_multipart_bodies_become_multipart_unless_a_field_cannot_be_a_part(
    tmp_path: Path,
) -> None:
    doc = _write(
        tmp_path,
        "up.yaml",
        """\
        openapi: 3.1.0
        info: {title: Up, version: "1"}
        paths:
          /files:
            post:
              operationId: upload
              requestBody:
                content:
                  multipart/form-data:
                    schema: {$ref: '#/components/schemas/Upload'}
              responses: {'204': {description: x}}
          /nested:
            post:
              operationId: nested
              requestBody:
                content:
                  multipart/form-data:
                    schema:
                      type: object
                      properties:
                        file: {type: string, format: binary}
                        meta: {type: object, properties: {a: {type: string}}}
              responses: {'204': {description: x}}
        components:
          schemas:
            Upload:
              type: object
              required: [file]
              properties:
                file: {type: string, format: binary}
                extra: {type: array, items: {type: string, format: binary}}
                kind: {type: string, enum: [a, b]}
                tags: {type: array, items: {type: string}}
        """,
    )
    translation = _translate(doc)
    upload = _endpoint(translation, "upload")
    assert (upload["body"], upload["request"]) == ("multipart", "Upload")
    props = translation.loaded.data["schemas"]["Upload"]["properties"]
    assert props["extra"]["items"] == {"type": "string", "format": "binary"}
    nested = _endpoint(translation, "nested")
    assert (nested["body"], nested["content_type"]) == ("raw", "multipart/form-data")
    notes = [n for n in translation.notes if "body: raw" in n]
    assert len(notes) == 1
    assert "multipart field `meta` is not a file, a single value or a list of them" in notes[0]
    validate(translation.loaded)  # the multipart endpoint is one the generator accepts


def test_openapi_30_schema_constructs(pantry: Translation) -> None:
    schemas = pantry.loaded.data["schemas"]
    props = schemas["NewItem"]["properties"]
    assert props["note"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "Free text.",
    }
    assert props["best_before"]["anyOf"][0] == {"type": "string", "format": "date"}
    assert props["price"] == {"type": "number", "exclusiveMinimum": 0}  # 3.0's boolean form
    assert props["kind"] == {"$ref": "#/schemas/Kind", "description": "Defaults to dry."}
    assert props["name"]["examples"] == ["rice"]
    assert props["weight_grams"] == {"type": "integer"}  # format int64, readOnly, multipleOf
    # Not an identifier: kept, its Python name written out for the reader to see (or change).
    assert props["@type"] == {"type": "string", "x-py-name": "at_type"}
    item = schemas["Item"]  # allOf of two objects: one object
    assert set(item["properties"]) == {*props, "id", "created_at"}
    assert item["required"] == ["name", "price", "id"]
    assert item["description"] == "A stored item."
    assert schemas["Label"]["discriminator"] == {
        "propertyName": "shape",
        "mapping": {"circle": "#/schemas/Circle", "square": "#/schemas/Square"},
    }
    assert "FieldModel" in schemas  # `Field` is a name the models module has
    assert "Field" not in schemas
    assert "ShelfEvent" in schemas  # `shelf-event`, CamelCase


def test_openapi_31_schema_constructs(memo: Translation) -> None:
    props = memo.loaded.data["schemas"]["Memo"]["properties"]
    assert props["body"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "description": "Markdown text.",
    }
    assert props["priority"] == {
        "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]
    }
    assert props["kind"] == {"const": "memo"}
    assert props["score"] == {"type": "number", "exclusiveMinimum": 0}
    assert props["tags"]["examples"] == [["work", "home"]]
    assert props["meta"]["additionalProperties"] == {"type": "string"}
    assert props["owner"] == {"$ref": "#/schemas/User", "description": "Who wrote it."}
    new = memo.loaded.data["schemas"]["NewMemo"]["properties"]["body"]
    assert new["default"] is None
    pinned = _endpoint(memo, "list_memos")["query"]["pinned"]["schema"]
    assert pinned == {"anyOf": [{"type": "boolean"}, {"type": "null"}]}


def test_notes_say_what_was_left_out_and_where(pantry: Translation) -> None:
    notes = "\n".join(pantry.notes)
    for text in (
        "HEAD is not supported",
        "query parameter `filter` left out",
        "header parameter `Accept` left out",
        "`multipleOf` left out",
    ):
        assert text in notes
    assert "@type" not in notes  # mapped to `x-py-name: at_type`, not left out
    head = next(n for n in pantry.notes if "HEAD" in n)
    line = PANTRY.read_text().splitlines().index("    head:") + 1
    assert head.startswith(f"{PANTRY}:{line}:")


# -- problems ----------------------------------------------------------------------------------


def test_swagger_2_is_refused(tmp_path: Path) -> None:
    doc = _write(
        tmp_path, "old.yaml", 'swagger: "2.0"\ninfo: {title: Old, version: "1"}\npaths: {}\n'
    )
    with pytest.raises(ManifestError, match=r"not an OpenAPI 3\.0 or 3\.1 document"):
        _translate(doc)


def test_bad_references_are_located_in_the_document(tmp_path: Path) -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Refs", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "A": {"type": "object", "properties": {"b": {"$ref": "#/components/schemas/Nope"}}},
                "C": {"$ref": "other.json#/C"},
            }
        },
    }
    path = tmp_path / "refs.json"
    path.write_text(json.dumps(doc, indent=2))
    with pytest.raises(ManifestError) as info:
        _translate(path)
    shown = [str(p) for p in info.value.problems]
    lines = path.read_text().splitlines()
    nope = next(i for i, t in enumerate(lines) if "Nope" in t) + 1
    other = next(i for i, t in enumerate(lines) if "other.json" in t) + 1
    assert any(s.startswith(f"{path}:{nope}:") and "unknown schema `Nope`" in s for s in shown)
    assert any(s.startswith(f"{path}:{other}:") and "bundle the document" in s for s in shown)


def test_invalid_json_is_located(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "openapi": "3.1.0",\n  "info": {"title": "x",, }\n}\n')
    with pytest.raises(ManifestError, match=r"broken\.json:3:\d+: invalid JSON"):
        read_document(path)


def test_a_document_value_the_manifest_refuses_points_into_the_document(tmp_path: Path) -> None:
    doc = _write(
        tmp_path,
        "bad-default.yaml",
        """\
        openapi: 3.0.0
        info: {title: Bad, version: "1"}
        paths: {}
        components:
          schemas:
            Size:
              type: integer
              minimum: 1
              default: 0
        """,
    )
    loaded = translate_document(read_document(doc)).loaded
    with pytest.raises(ManifestError) as info:
        validate(loaded)
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == (str(doc), 9)
    assert "violates its own schema" in problem.message


# -- the bootstrap manifest --------------------------------------------------------------------


@pytest.mark.parametrize("document", [PANTRY, MEMO], ids=["3.0-yaml", "3.1-json"])
def test_bootstrap_writes_a_manifest_that_loads_and_generates(
    document: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "manifest.yaml"
    assert main(["import", str(document), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    assert text.startswith("# Imported from")
    manifest = validate(load_yaml(out))
    assert manifest.resources
    package = tmp_path / f"{manifest.api.name}_sdk"
    generate(out, package)
    sys.path.insert(0, str(tmp_path))
    try:
        sdk = importlib.import_module(package.name)
        client_class = getattr(sdk, manifest.api.client_class)
        with client_class(base_url="https://x.example.test", api_key="k") as client:
            for rname, resource in manifest.resources.items():
                for eid in resource.endpoints:
                    assert callable(getattr(getattr(client, rname), eid))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.split(".")[0] == package.name]:
            del sys.modules[name]


def test_import_cli_reports_a_missing_document(tmp_path: Path) -> None:
    assert main(["import", str(tmp_path / "none.json"), "--out", str(tmp_path / "m.yaml")]) == 2
    assert not (tmp_path / "m.yaml").exists()


def test_generate_takes_a_document_directly(tmp_path: Path) -> None:
    names = generate(MEMO, tmp_path / "memo_direct")
    assert {"memos.py", "exports.py", "default.py", "models.py"} <= set(names)
