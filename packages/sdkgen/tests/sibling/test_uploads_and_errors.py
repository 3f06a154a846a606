"""The render farm's multipart texture upload and its declared error bodies, against a real
server on 127.0.0.1: the parts arrive as sent (a file, a list of files, text fields), a retry
sends the file again, and error statuses raise the usual classes with the parsed body."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
from sdkgen.runtime import APIStatusError, BadRequestError, InternalServerError
from tests.runtime._multipart_support import Part, split_parts
from tests.runtime._support import HTTPServerThread
from tests.sibling.conftest import TOKEN


class _Farm(BaseHTTPRequestHandler):
    """Stores texture uploads; the texture's name picks the answer."""

    protocol_version = "HTTP/1.1"
    received: ClassVar[list[list[Part]]] = []
    attempts: ClassVar[int] = 0

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        type(self).attempts += 1
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        parts = split_parts(self.headers["Content-Type"], raw)
        type(self).received.append(parts)
        name = next(p.data.decode() for p in parts if p.name == "name")
        if name == "huge":
            return self._reply(413, {"limit": {"bytes": 1024, "detail": "over 1 KiB"}})
        if name == "bad":
            return self._reply(400, {"error": {"message": "not a PNG", "code": "E_FMT"}})
        if name == "flaky" and type(self).attempts == 1:
            return self._reply(503, {"error": {"message": "busy"}})
        if name == "broken":
            return self._reply(500, {"oops": True})  # not the declared shape
        image = next(p for p in parts if p.name == "image")
        return self._reply(
            200,
            {"project": "p", "path": f"textures/{image.filename}", "size_bytes": len(image.data)},
        )


@pytest.fixture
def farm_server() -> Iterator[HTTPServerThread]:
    _Farm.received, _Farm.attempts = [], 0
    server = HTTPServerThread(_Farm)
    yield server
    server.stop()


@pytest.fixture
def live_farm(sdk: ModuleType, farm_server: HTTPServerThread) -> Iterator[Any]:
    with sdk.RenderFarm(base_url=farm_server.base_url, api_key=TOKEN) as client:
        yield client


def test_a_texture_and_its_mips_arrive_as_parts(live_farm: Any, tmp_path: Path) -> None:
    image = tmp_path / "wood.png"
    image.write_bytes(b"\x89PNG" + bytes(range(256)) * 100)
    ref = live_farm.assets.upload_texture(
        "p",
        image=image,
        mips=[("wood@2.png", b"half", "image/png"), b"quarter"],
        name="wood",
        tags=["floor", "oak"],
    )
    assert ref.path == "textures/wood.png"
    assert ref.size_bytes == image.stat().st_size
    (parts,) = _Farm.received
    assert [(p.name, p.filename, p.headers.get("content-type")) for p in parts] == [
        ("image", "wood.png", "application/octet-stream"),
        ("mips", "wood@2.png", "image/png"),
        ("mips", "mips", "application/octet-stream"),
        ("name", None, None),
        ("srgb", None, None),
        ("tags", None, None),
        ("tags", None, None),
    ]
    assert parts[0].data == image.read_bytes()
    assert [p.data for p in parts[3:]] == [b"wood", b"true", b"floor", b"oak"]


def test_a_retried_upload_sends_the_file_object_again(live_farm: Any, tmp_path: Path) -> None:
    image = tmp_path / "flaky.png"
    image.write_bytes(b"P" * 200_000)
    with image.open("rb") as fh:
        live_farm.assets.upload_texture("p", image=fh, name="flaky")
    first, second = _Farm.received
    assert first[0].data == second[0].data == image.read_bytes()


def test_declared_error_bodies_are_parsed(sdk: ModuleType, live_farm: Any) -> None:
    with pytest.raises(APIStatusError) as huge:
        live_farm.assets.upload_texture("p", image=b"x" * 2048, name="huge")
    assert type(huge.value) is APIStatusError  # 413 has no class of its own, as before
    assert isinstance(huge.value.parsed, sdk.models.TooLarge)
    assert huge.value.parsed.limit.bytes == 1024
    assert huge.value.message == "over 1 KiB"  # the endpoint's own message field
    with pytest.raises(BadRequestError) as bad:
        live_farm.assets.upload_texture("p", image=b"x", name="bad")
    assert isinstance(bad.value.parsed, sdk.models.FarmError)  # the API's default
    assert bad.value.parsed.error.code == "E_FMT"
    assert bad.value.message == "not a PNG"
    with pytest.raises(InternalServerError) as broken:
        live_farm.assets.upload_texture("p", image=b"x", name="broken", max_retries=0)
    assert broken.value.parsed is None  # does not match: reported as without a declaration
    assert broken.value.body == {"oops": True}


def test_a_bad_argument_is_refused_before_any_upload(live_farm: Any) -> None:
    with pytest.raises(ValueError, match="at least 1 character"):
        live_farm.assets.upload_texture("p", image=b"x", name="")
    with pytest.raises(ValueError, match="file field `image`: a str is neither bytes nor a path"):
        live_farm.assets.upload_texture("p", image="wood.png", name="wood")
    assert _Farm.received == []
