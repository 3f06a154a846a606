"""``examples/kvstore/openapi.json`` describes the same API as ``kvstore.yaml``: every endpoint
under the same method, path and operation id, and the same schemas. The document is the
starting point of the guide's "Starting from OpenAPI"; if the two drift apart, the guide lies."""

from __future__ import annotations

import json
from typing import Any

import yaml

from .conftest import EXAMPLE, MANIFEST


def _load() -> tuple[dict[str, Any], dict[str, Any]]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    document = json.loads((EXAMPLE / "openapi.json").read_text())
    return manifest, document


def _without_open(value: Any) -> Any:
    """A manifest schema as OpenAPI writes it: refs under components, no `open` keyword."""
    if isinstance(value, dict):
        return {
            key: item.replace("#/schemas/", "#/components/schemas/")
            if key == "$ref"
            else _without_open(item)
            for key, item in value.items()
            if key != "open"
        }
    if isinstance(value, list):
        return [_without_open(item) for item in value]
    return value


def test_every_endpoint_is_an_operation_with_its_id_and_tag() -> None:
    manifest, document = _load()
    operations = {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }
    endpoints = {
        (ep["method"], ep["path"]): (resource, eid)
        for resource, spec in manifest["resources"].items()
        for eid, ep in spec["endpoints"].items()
    }
    assert set(operations) == set(endpoints)
    for route, (resource, eid) in endpoints.items():
        assert operations[route]["operationId"] == eid
        assert operations[route]["tags"] == [resource]


def test_the_schemas_are_the_manifests() -> None:
    manifest, document = _load()
    schemas = document["components"]["schemas"]
    assert set(schemas) == set(manifest["schemas"])
    for name, schema in manifest["schemas"].items():
        assert schemas[name] == _without_open(schema), name


def test_the_declared_errors_are_the_documents_error_responses() -> None:
    manifest, document = _load()
    ref = "#/components/schemas/"
    api_default = manifest["api"]["errors"]["default"]
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            default = op["responses"]["default"]["content"]["application/json"]["schema"]
            assert default == {"$ref": ref + api_default}, (method, path)
    endpoints = {
        eid: ep for spec in manifest["resources"].values() for eid, ep in spec["endpoints"].items()
    }
    declared = {eid: ep["errors"] for eid, ep in endpoints.items() if "errors" in ep}
    assert declared  # at least one endpoint declares a shape of its own
    for eid, errors in declared.items():
        ep = endpoints[eid]
        op = document["paths"][ep["path"]][ep["method"].lower()]
        for status, entry in errors.items():
            content = op["responses"][str(status)]["content"]["application/json"]
            assert content["schema"] == {"$ref": ref + entry["schema"]}, (eid, status)


def test_both_credentials_are_security_schemes() -> None:
    _, document = _load()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["tenant"] == {"type": "apiKey", "in": "header", "name": "X-KV-Tenant"}
    assert document["security"] == [{"bearer": [], "tenant": []}]
