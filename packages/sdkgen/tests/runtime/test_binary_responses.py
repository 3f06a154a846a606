"""Issue 11, point 3, at run time: a generated SDK's binary endpoints (bytes within the limit,
an open body iterated or written to a file atomically in bounded memory), redirects to
another origin (no credentials follow), and header and cookie parameters on the wire. Against
real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import importlib
import sys
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest
import sdkgen.codegen as codegen
from pydantic import ValidationError
from sdkgen.runtime import APIConnectionError, NotFoundError, ResponseTooLargeError

from ._support import HTTPServerThread

KEY = "files-key-0123456789"
BLOB = bytes(range(256)) * 4096  # 1 MiB, not a repetition of any short line
BIG = 8 * len(BLOB)  # what the big endpoint sends, over its 4 MiB limit

MANIFEST = """\
manifest_version: 1
api:
  name: files
  title: Files
  client_class: FilesAPI
  version: "1"
  base_url: http://127.0.0.1:9
  auth: {header: X-Files-Key, env: FILES_TEST_KEY}
  retry_policies:
    default: {max_retries: 0}
  pools:
    default: {max_connections: 4}
    downloads: {max_connections: 4, follow_redirects: true}
resources:
  files:
    endpoints:
      download:
        method: GET
        path: /files/{file-name}
        path_params: {file-name: {name: name, schema: {type: string}}}
        query:
          if-version: {in: header, name: if_version, schema: {type: integer, minimum: 1}}
          session: {in: cookie, schema: {type: string}}
          x-trace: {in: header, name: trace, schema: {type: string}}
        response: binary
        pool: downloads
        max_response_bytes: 4194304
"""


class _Storage(BaseHTTPRequestHandler):
    """Another origin (a signed-URL store): records the headers it is sent."""

    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        self.wfile.write(BLOB)


class _Origin(BaseHTTPRequestHandler):
    """The API: serves, redirects (to itself or to the store), cuts off and oversends."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, str]]] = []
    storage: ClassVar[str] = ""

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        type(self).seen.append(
            {"path": self.path, **{k.lower(): v for k, v in self.headers.items()}}
        )
        name = self.path.rsplit("/", 1)[-1]
        if name == "elsewhere":
            return self._redirect(f"{self.storage}/blob/1?sig=abc")
        if name == "here":
            return self._redirect("/files/blob")
        if name == "missing":
            return self._send(404, b'{"detail": "no such file"}')
        if name == "cut":  # promises the whole blob, sends a quarter, hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(BLOB[: len(BLOB) // 4])
            self.wfile.flush()
            self.close_connection = True
            return None
        if name == "big":  # chunked, no length: the limit is found while reading
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            piece = BLOB + b"\n\n"  # blank lines: no "event" of it is over the limit
            for _ in range(BIG // len(BLOB)):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return None
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(BLOB)))
        self.end_headers()
        self.wfile.write(BLOB)
        return None

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("binary")
    manifest = root / "files.yaml"
    manifest.write_text(MANIFEST)
    codegen.generate(manifest, root / "files_bin_sdk", runtime="sdkgen.runtime")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("files_bin_sdk.client")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.startswith("files_bin_sdk")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    storage = HTTPServerThread(_Storage, lifetime=120)
    _Origin.storage = storage.base_url
    origin = HTTPServerThread(_Origin, lifetime=120)
    try:
        yield origin.base_url, storage.base_url
    finally:
        origin.stop()
        storage.stop()


@pytest.fixture
def api(sdk: ModuleType, servers: tuple[str, str]) -> Iterator[Any]:
    _Origin.seen.clear()
    _Storage.seen.clear()
    with sdk.FilesAPI(base_url=servers[0], api_key=KEY, timeout=20) as client:
        yield client


def test_bytes_come_back_and_header_and_cookie_parameters_are_sent(api: Any) -> None:
    data = api.files.download("blob", if_version=3, session="s-42", trace="t-1")
    assert data == BLOB
    seen = _Origin.seen[-1]
    assert seen["if-version"] == "3"
    assert seen["x-trace"] == "t-1"
    assert seen["cookie"] == "session=s-42"
    assert seen["x-files-key"] == KEY
    assert seen["accept"] == "*/*"


def test_unset_header_parameters_are_not_sent_and_extra_headers_win(api: Any) -> None:
    api.files.download("blob", trace="t-1", extra_headers={"x-trace": "mine"})
    seen = _Origin.seen[-1]
    assert "if-version" not in seen
    assert "cookie" not in seen
    assert seen["x-trace"] == "mine"


def test_header_parameters_are_validated_before_anything_is_sent(api: Any) -> None:
    with pytest.raises(ValidationError, match="if_version"):
        api.files.download("blob", if_version=0)
    with pytest.raises(ValueError, match="header parameter `x-trace`"):
        api.files.download("blob", trace="two\r\nlines")
    with pytest.raises(ValueError, match="cookie parameter `session`"):
        api.files.download("blob", session="a; b")
    assert _Origin.seen == []


def test_a_body_over_the_limit_is_refused_read_whole_or_streamed(api: Any) -> None:
    with pytest.raises(ResponseTooLargeError, match="download"):
        api.files.download("big")
    with api.files.stream_download("big") as body, pytest.raises(ResponseTooLargeError):
        for _ in body:
            pass


def test_an_error_status_raises_before_any_body_is_handed_out(api: Any, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        api.files.stream_download("missing")


def test_write_to_file_holds_one_chunk_at_a_time(api: Any, tmp_path: Path) -> None:
    target = tmp_path / "blob.bin"
    tracemalloc.start()
    try:
        with api.files.stream_download("blob") as body:
            written = body.write_to_file(target, chunk_size=16384)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == len(BLOB)
    assert target.read_bytes() == BLOB
    assert peak < len(BLOB) // 2, peak  # a buffered body alone would be len(BLOB)


def test_chunks_are_at_most_the_chunk_size(api: Any) -> None:
    with api.files.stream_download("blob") as body:
        sizes = [len(chunk) for chunk in body.iter_bytes(10_000)]
    assert sum(sizes) == len(BLOB)
    assert max(sizes) == 10_000


def test_a_cut_off_download_leaves_the_target_as_it_was(api: Any, tmp_path: Path) -> None:
    target = tmp_path / "kept.bin"
    target.write_bytes(b"old")
    with api.files.stream_download("cut") as body, pytest.raises(APIConnectionError):
        body.write_to_file(target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["kept.bin"]  # no temporary file left


def test_a_redirect_to_another_origin_carries_no_credentials(api: Any) -> None:
    data = api.files.download("elsewhere", session="s-42", trace="t-1")
    assert data == BLOB
    [stored] = _Storage.seen
    assert "x-files-key" not in stored
    assert "cookie" not in stored
    assert stored["x-trace"] == "t-1"  # not a secret: it goes along
    assert _Origin.seen[-1]["x-files-key"] == KEY


def test_a_redirect_within_the_origin_keeps_the_key(api: Any) -> None:
    assert api.files.download("here") == BLOB
    assert [s["path"] for s in _Origin.seen] == ["/files/here", "/files/blob"]
    assert all(s["x-files-key"] == KEY for s in _Origin.seen)


def test_the_asyncio_client_downloads_streams_and_strips_on_redirect(
    sdk: ModuleType, servers: tuple[str, str], tmp_path: Path
) -> None:
    _Storage.seen.clear()
    target = tmp_path / "async.bin"

    async def main() -> tuple[bytes, int, list[int]]:
        async with sdk.AsyncFilesAPI(base_url=servers[0], api_key=KEY, timeout=20) as client:
            data = await client.files.download("elsewhere", session="s-1")
            async with await client.files.stream_download("blob", if_version=2) as body:
                written = await body.write_to_file(target)
            body = await client.files.stream_download("blob")
            sizes = [len(c) async for c in body.iter_bytes(50_000)]
            return data, written, sizes

    data, written, sizes = asyncio.run(main())
    assert data == BLOB
    assert written == len(BLOB)
    assert target.read_bytes() == BLOB
    assert sum(sizes) == len(BLOB)
    assert max(sizes) == 50_000
    [stored] = _Storage.seen
    assert "x-files-key" not in stored
    assert "cookie" not in stored
    assert _Origin.seen[-2]["if-version"] == "2"
