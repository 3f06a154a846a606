"""A contract test for every endpoint of the Tinker manifest, parametrised from the manifest.

For each endpoint the generated method is called with minimal valid arguments against
pytest-httpx, and what went on the wire is checked: method, path, query, auth and idempotency
headers, content type and encoding, and the body's shape. A new endpoint in the manifest is
covered without new test code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
import zstandard
from pytest_httpx import HTTPXMock

from tinkex._generated import AsyncTinkerAPI, TinkerAPI, tinker_public_pb2

from .sampler import ref_target, sample

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest" / "tinker.yaml").read_text())
SCHEMAS: dict[str, Any] = MANIFEST["schemas"]
API = MANIFEST["api"]
BASE = "http://tinker.test"
KEY = "tml-contract-test-key"
ENDPOINTS = [
    (resource, eid, ep)
    for resource, spec in MANIFEST["resources"].items()
    for eid, ep in spec["endpoints"].items()
]


def _path_value(name: str, param: dict[str, Any]) -> str:
    return "weights/step 1" if param.get("allow_slash") else f"{name}-1/x y"


def call_arguments(ep: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(keyword arguments for the generated method, the body expected on the wire)."""
    kwargs: dict[str, Any] = {}
    for name, param in (ep.get("path_params") or {}).items():
        kwargs[name] = _path_value(name, param)
    body: dict[str, Any] = {}
    if ep.get("request"):
        schema = SCHEMAS[ep["request"]]
        for name, prop in schema["properties"].items():
            if "const" in prop:
                body[name] = prop["const"]
        for name in schema.get("required") or []:
            value = sample(schema["properties"][name], SCHEMAS)
            body[name] = value
            kwargs[name] = value
    if ep.get("body") == "raw":
        kwargs["content"] = b"\x08\x01payload"
    if ep.get("body") == "protobuf":
        kwargs["message"] = protobuf_sample(ep["message"])
    for header, arg in (ep.get("secret_headers") or {}).items():
        kwargs[arg] = f"secret-{header}"
    return kwargs, body


def protobuf_sample(name: str) -> Any:
    """A message of type ``name`` with every scalar string and number field set."""
    message = getattr(tinker_public_pb2, name)()
    for field in message.DESCRIPTOR.fields:
        if field.label == field.LABEL_REPEATED or field.message_type is not None:
            continue
        if field.type == field.TYPE_STRING:
            setattr(message, field.name, f"{field.name}-value")
        elif field.type in (field.TYPE_INT32, field.TYPE_INT64):
            setattr(message, field.name, 7)
    return message


def reply_for(ep: dict[str, Any]) -> Any:
    if ep.get("future"):
        return {"request_id": "req-1"}
    if ep.get("response"):
        return sample(SCHEMAS[ep["response"]], SCHEMAS)
    return None


def expected_path(ep: dict[str, Any]) -> str:
    path = ep["path"]
    for name, param in (ep.get("path_params") or {}).items():
        safe = "/" if param.get("allow_slash") else ""
        path = path.replace("{" + name + "}", quote(_path_value(name, param), safe=safe))
    return path


def contains(sent: Any, expected: Any) -> bool:
    """``sent`` carries every value of ``expected`` (nested defaults may add more keys)."""
    if isinstance(expected, dict):
        return isinstance(sent, dict) and all(
            k in sent and contains(sent[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(sent, list)
            and len(sent) == len(expected)
            and all(contains(a, b) for a, b in zip(sent, expected, strict=True))
        )
    return bool(sent == expected)


def check_request(request: httpx.Request, ep: dict[str, Any], body: dict[str, Any]) -> None:
    assert request.method == ep["method"]
    assert request.url.raw_path.decode().split("?")[0] == expected_path(ep)
    for name, param in (ep.get("query") or {}).items():
        default = param["schema"].get("default")
        if default is not None:
            sent = request.url.params.get(name)
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert sent == expected, f"query {name}"
    assert request.headers[API["auth"]["header"]] == KEY
    idem = request.headers.get(API["idempotency_header"])
    if ep["method"] == "GET":
        assert idem is None
    else:
        assert idem
    assert request.headers[API["retry_count_header"]] == "0"
    for header, value in (ep.get("headers") or {}).items():
        assert request.headers[header] == value
    for header in ep.get("secret_headers") or {}:
        assert request.headers[header] == f"secret-{header}"
    if ep.get("stream"):
        assert request.headers["accept"] == "text/event-stream"
    content = request.content
    if ep.get("compress"):
        assert request.headers["content-encoding"] == ep["compress"]
        assert ep["compress"] == "zstd"
        content = zstandard.ZstdDecompressor().decompressobj().decompress(content)
    else:
        assert "content-encoding" not in request.headers
    if ep.get("body") == "raw":
        assert request.headers["content-type"] == ep["content_type"]
        assert content == b"\x08\x01payload"
    elif ep.get("body") == "protobuf":
        assert request.headers["content-type"] == "application/x-protobuf"
        message_type = getattr(tinker_public_pb2, ep["message"])
        assert message_type.FromString(content) == protobuf_sample(ep["message"])
    elif ep.get("request"):
        assert request.headers["content-type"] == "application/json"
        sent = json.loads(content)
        schema = ref_target(SCHEMAS[ep["request"]], SCHEMAS)
        assert set(sent) <= set(schema["properties"]), "only schema fields are sent"
        for name, value in body.items():
            assert contains(sent[name], value), f"{name}: sent {sent[name]!r}, expected {value!r}"
    else:
        assert content == b""


@pytest.mark.parametrize(("resource", "eid", "ep"), ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_endpoint_contract(
    httpx_mock: HTTPXMock, resource: str, eid: str, ep: dict[str, Any]
) -> None:
    kwargs, body = call_arguments(ep)
    reply = reply_for(ep)
    if ep.get("stream"):
        event = sample(SCHEMAS[ep["stream"]["event"]], SCHEMAS)
        httpx_mock.add_response(
            headers={"content-type": "text/event-stream"},
            content=f"data: {json.dumps(event)}\n\n".encode(),
        )
    elif reply is None:
        httpx_mock.add_response(status_code=204 if ep["method"] == "DELETE" else 200)
    else:
        httpx_mock.add_response(json=reply)
    with TinkerAPI(base_url=BASE, api_key=KEY, max_retries=0) as api:
        method = getattr(getattr(api, resource), eid)
        if ep.get("deprecated"):
            with pytest.warns(DeprecationWarning, match=eid):
                result = method(**kwargs)
        else:
            result = method(**kwargs)
        if ep.get("stream"):
            events = list(result)
            assert len(events) == 1
        elif ep.get("future"):
            assert result.request_id == "req-1"
        elif reply is None:
            assert result is None
        else:
            dumped = (
                result
                if isinstance(result, dict)
                else result.model_dump(mode="json", exclude_unset=True)
            )
            assert contains(dumped, reply)
    (request,) = httpx_mock.get_requests()
    check_request(request, ep, body)


FUTURES = [e for e in ENDPOINTS if e[2].get("future")]


@pytest.mark.parametrize(("resource", "eid", "ep"), FUTURES, ids=[e[1] for e in FUTURES])
async def test_future_endpoint_polls_for_its_typed_result(
    httpx_mock: HTTPXMock, resource: str, eid: str, ep: dict[str, Any]
) -> None:
    kwargs, body = call_arguments(ep)
    result_schema = SCHEMAS[ep["future"]["result"]]
    result = sample(result_schema, SCHEMAS)
    httpx_mock.add_response(url=f"{BASE}{expected_path(ep)}", json={"request_id": "req-7"})
    poll_url = f"{BASE}/api/v1/retrieve_future"
    httpx_mock.add_response(
        url=poll_url, json={"type": "try_again", "request_id": "req-7", "queue_state": "active"}
    )
    httpx_mock.add_response(url=poll_url, json=result)
    async with AsyncTinkerAPI(base_url=BASE, api_key=KEY, max_retries=0) as api:
        method = getattr(getattr(api, resource), eid)
        handle = await method(**kwargs)
        value = await handle.result(timeout=10)
    expected_type = ep["future"]["result"]
    assert type(value).__name__ == expected_type
    submit, *polls = httpx_mock.get_requests()
    check_request(submit, ep, body)
    futures = API["futures"]
    expected_poll = {futures["request_id_field"]: "req-7", **futures.get("poll_fields", {})}
    assert [json.loads(p.content) for p in polls] == [expected_poll] * 2
    assert [p.headers[futures["iteration_header"]] for p in polls] == ["0", "1"]
    # The low-level client has no protobuf result converters: it asks for JSON.
    assert [p.headers["accept"] for p in polls] == ["application/json"] * 2
