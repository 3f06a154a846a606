"""Protobuf in a manifest: the schema compiled by codegen, messages checked, bodies and results
carried by the generic runtime (an API written for this test)."""

from __future__ import annotations

import importlib
import struct
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sdkgen.codegen import ManifestError, generate
from sdkgen.codegen.loader import load_yaml
from sdkgen.codegen.validate import validate

from .conftest import BASE

PROTO = """\
syntax = "proto3";
package shapes;
message Box { string label = 1; repeated int64 sides = 2; }
message Volume { double value = 1; bytes packed = 2; }
"""

PROTO_API = BASE.replace(
    "  pools:\n",
    "  protobuf: {file: shapes.proto}\n"
    "  futures:\n"
    "    poll_endpoint: poll\n"
    "    pending: {field: type, equals: try_again}\n"
    "    failed: {field: error}\n"
    "  pools:\n",
).replace(
    "      create_item:\n",
    "      measure:\n"
    "        method: POST\n"
    "        path: /measure\n"
    "        body: protobuf\n"
    "        message: Box\n"
    "        compress: zstd\n"
    "        response: Handle\n"
    "        future: {result: VolumeResult, protobuf: Volume}\n"
    "      poll:\n"
    "        method: POST\n"
    "        path: /poll\n"
    "        request: PollRequest\n"
    "        response: Handle\n"
    "      create_item:\n",
) + (
    "  Handle:\n"
    "    type: object\n"
    "    properties: {request_id: {type: string}}\n"
    "    required: [request_id]\n"
    "  PollRequest:\n"
    "    type: object\n"
    "    properties: {request_id: {type: string}}\n"
    "    required: [request_id]\n"
    "  VolumeResult:\n"
    "    type: object\n"
    "    properties: {value: {type: number}}\n"
    "    required: [value]\n"
)

Write = Callable[[str], Path]


def _write(tmp_path: Path, manifest: str, proto: str = PROTO) -> Path:
    (tmp_path / "shapes.proto").write_text(proto)
    path = tmp_path / "manifest.yaml"
    path.write_text(manifest)
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as info:
        validate(load_yaml(path))
    return [str(p) for p in info.value.problems]


def test_a_protobuf_manifest_is_valid(tmp_path: Path) -> None:
    manifest = validate(load_yaml(_write(tmp_path, PROTO_API)))
    assert manifest.resources["items"].endpoints["measure"].message == "Box"


def test_an_unknown_message_is_a_manifest_error_with_its_position(tmp_path: Path) -> None:
    found = _problems(_write(tmp_path, PROTO_API.replace("message: Box", "message: Bx")))
    assert any(
        "measure.message: unknown protobuf message `Bx` (known: Box, Volume)" in p for p in found
    ), found
    found = _problems(_write(tmp_path, PROTO_API.replace("protobuf: Volume", "protobuf: Vol")))
    assert any("measure.future.protobuf: unknown protobuf message `Vol`" in p for p in found)


def test_protobuf_bodies_need_a_message_and_a_schema_file(tmp_path: Path) -> None:
    found = _problems(_write(tmp_path, PROTO_API.replace("        message: Box\n", "")))
    assert any("needs a `message`" in p for p in found), found
    no_file = PROTO_API.replace("  protobuf: {file: shapes.proto}\n", "")
    found = _problems(_write(tmp_path, no_file))
    assert any("needs `api.protobuf.file`" in p for p in found), found


def test_a_proto_that_does_not_compile_is_reported(tmp_path: Path) -> None:
    found = _problems(_write(tmp_path, PROTO_API, proto="syntax = proto3; message {"))
    assert any("api.protobuf.file: protoc failed" in p for p in found), found


@pytest.fixture
def shapes_sdk(tmp_path: Path) -> Iterator[object]:
    out = tmp_path / "shapes_sdk"
    generate(_write(tmp_path, PROTO_API), out)
    assert (out / "shapes_pb2.py").is_file()
    assert (out / "shapes_pb2.pyi").is_file()
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("shapes_sdk")
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n.split(".")[0] == "shapes_sdk"]:
            del sys.modules[name]


def test_generated_client_sends_the_message_and_decodes_a_protobuf_result(
    shapes_sdk: object,
) -> None:
    pb = importlib.import_module("shapes_sdk.shapes_pb2")
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/measure":
            return httpx.Response(200, json={"request_id": "r1"})
        if "application/x-protobuf" in request.headers["accept"]:
            reply = pb.Volume(packed=struct.pack("<d", 42.5)).SerializeToString()
            return httpx.Response(
                200, content=reply, headers={"content-type": "application/x-protobuf"}
            )
        return httpx.Response(200, json={"value": 1.0})

    client_class = shapes_sdk.MiniAPI  # type: ignore[attr-defined]
    with client_class(base_url="http://api.test", transport=httpx.MockTransport(server)) as api:
        # No converter registered: JSON is asked for.
        handle = api.items.measure(message=pb.Box(label="cube", sides=[1, 2]), compress=False)
        assert handle.result(timeout=5).value == 1.0
        assert seen[0].headers["content-type"] == "application/x-protobuf"
        assert pb.Box.FromString(seen[0].content) == pb.Box(label="cube", sides=[1, 2])
        assert seen[1].headers["accept"] == "application/json"
        # A converter for the message: protobuf is asked for and decoded with it.
        api.codecs.register(
            "shapes.Volume",
            lambda raw: {"value": struct.unpack("<d", pb.Volume.FromString(raw).packed)[0]},
        )
        handle = api.items.measure(message=pb.Box(label="cube"))
        assert handle.result(timeout=5) == {"value": 42.5}
        assert seen[2].headers["content-encoding"] == "zstd"
        assert seen[3].headers["accept"].startswith("application/x-protobuf")


def test_a_protobuf_reply_nobody_asked_for_is_read_field_by_field(shapes_sdk: object) -> None:
    pb = importlib.import_module("shapes_sdk.shapes_pb2")

    def server(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/measure":
            return httpx.Response(200, json={"request_id": "r1"})
        reply = pb.Volume(value=3.25).SerializeToString()  # whatever the Accept said
        return httpx.Response(
            200, content=reply, headers={"content-type": "application/x-protobuf"}
        )

    client_class = shapes_sdk.MiniAPI  # type: ignore[attr-defined]
    with client_class(base_url="http://api.test", transport=httpx.MockTransport(server)) as api:
        result = api.items.measure(message=pb.Box(label="cube")).result(timeout=5)
    assert result.value == 3.25
    assert type(result).__name__ == "VolumeResult"


def test_a_message_already_serialized_is_sent_as_it_is(shapes_sdk: object) -> None:
    """Hand-written code that encodes ahead of time (or splices a field into bytes) passes the
    bytes to the generated, typed method instead of a message object."""
    pb = importlib.import_module("shapes_sdk.shapes_pb2")
    seen: list[httpx.Request] = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/measure":
            return httpx.Response(200, json={"request_id": "r1"})
        return httpx.Response(200, json={"value": 2.0})

    encoded = (
        pb.Box(label="cube", sides=[3]).SerializeToString() + pb.Box(sides=[4]).SerializeToString()
    )
    client_class = shapes_sdk.MiniAPI  # type: ignore[attr-defined]
    with client_class(base_url="http://api.test", transport=httpx.MockTransport(server)) as api:
        handle = api.items.measure(message=encoded, compress=False)
        assert handle.result(timeout=5).value == 2.0
    assert seen[0].content == encoded  # byte for byte, not re-encoded
    assert pb.Box.FromString(seen[0].content) == pb.Box(label="cube", sides=[3, 4])
    assert seen[0].headers["content-type"] == "application/x-protobuf"


def test_a_message_of_another_type_is_refused_naming_the_method_and_the_type(
    shapes_sdk: object,
) -> None:
    pb = importlib.import_module("shapes_sdk.shapes_pb2")
    sent: list[httpx.Request] = []
    client_class = shapes_sdk.MiniAPI  # type: ignore[attr-defined]
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    with client_class(base_url="http://api.test", transport=transport) as api:
        for wrong in (pb.Volume(value=1.0), {"label": "cube"}, "cube"):
            with pytest.raises(TypeError, match=r"measure\(\): `message` must be a shapes\.Box"):
                api.items.measure(message=wrong)
    assert sent == []  # refused before anything was sent
