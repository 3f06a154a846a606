"""Request-body compression: what goes over the wire decompresses to what the caller gave."""

from __future__ import annotations

import gzip
import json
import os
import time
from http.server import BaseHTTPRequestHandler

import pytest
import zstandard
from pytest_httpx import HTTPXMock
from sdkgen.runtime import APIResponseValidationError
from sdkgen.runtime._compression import compress, decompress
from tests.runtime._support import AsyncFactory, StartHTTPServer, SyncFactory, endpoint

PAYLOAD = b"tokens:" + bytes(range(256)) * 64 + os.urandom(512)


def test_zstd_request_body(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"ok": True})
    make_client().request(endpoint("upload_zstd"), dict, content=PAYLOAD)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Encoding"] == "zstd"
    assert request.headers["Content-Type"] == "application/octet-stream"
    sent = request.content
    assert sent != PAYLOAD
    assert len(sent) < len(PAYLOAD)
    assert zstandard.ZstdDecompressor().decompress(sent) == PAYLOAD
    assert int(request.headers["Content-Length"]) == len(sent)


def test_gzip_request_body(make_client: SyncFactory, httpx_mock: HTTPXMock) -> None:
    httpx_mock.add_response(json={"ok": True})
    make_client().request(endpoint("upload_gzip"), dict, content=PAYLOAD)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(request.content) == PAYLOAD


def test_gzip_is_byte_identical_for_identical_input(
    make_client: SyncFactory, httpx_mock: HTTPXMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first_packed = compress(PAYLOAD, "gzip")
    httpx_mock.add_response(json={}, is_reusable=True)
    client = make_client()
    client.request(endpoint("upload_gzip"), dict, content=PAYLOAD)
    # A day later (gzip would stamp the current time into its header unless told not to).
    later = time.time() + 86_400
    monkeypatch.setattr(time, "time", lambda: later)
    assert compress(PAYLOAD, "gzip") == first_packed
    client.request(endpoint("upload_gzip"), dict, content=PAYLOAD)
    first, second = httpx_mock.get_requests()
    assert first.content == second.content
    assert first.content == compress(PAYLOAD, "gzip")


def test_retried_attempt_resends_the_same_compressed_body(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(status_code=503)
    httpx_mock.add_response(json={})
    make_client().request(endpoint("upload_zstd"), dict, content=PAYLOAD)
    first, second = httpx_mock.get_requests()
    assert zstandard.ZstdDecompressor().decompress(second.content) == PAYLOAD
    assert second.headers["Content-Encoding"] == "zstd"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_uncompressed_endpoint_has_no_content_encoding(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    make_client().request(endpoint("create_item"), dict, content=b'{"a":1}')
    request = httpx_mock.get_request()
    assert request is not None
    assert "Content-Encoding" not in request.headers
    assert request.content == b'{"a":1}'


async def test_async_zstd_request_body(
    make_async_client: AsyncFactory, httpx_mock: HTTPXMock
) -> None:
    httpx_mock.add_response(json={})
    await make_async_client().request(endpoint("upload_zstd"), dict, content=PAYLOAD)
    request = httpx_mock.get_request()
    assert request is not None
    assert request.headers["Content-Encoding"] == "zstd"
    assert zstandard.ZstdDecompressor().decompress(request.content) == PAYLOAD


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_compress_decompress_round_trip(encoding: str) -> None:
    packed = compress(PAYLOAD, encoding)  # type: ignore[arg-type]
    assert packed != PAYLOAD
    assert decompress(packed, f" {encoding.upper()} ") == PAYLOAD


@pytest.mark.parametrize("encoding", ["", "identity"])
def test_decompress_identity(encoding: str) -> None:
    assert decompress(b"as is", encoding) == b"as is"


def test_unknown_encodings_are_refused() -> None:
    with pytest.raises(ValueError, match="br"):
        compress(b"x", "br")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="br"):
        decompress(b"x", "br")


def _encoded_handler(body: bytes, encoding: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", encoding)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.mark.parametrize("encoding", ["gzip", "zstd"])
def test_compressed_responses_are_decoded(
    make_client: SyncFactory, http_server: StartHTTPServer, encoding: str
) -> None:
    body = json.dumps({"id": "7", "blob": "x" * 500}).encode()
    server = http_server(_encoded_handler(compress(body, encoding), encoding))  # type: ignore[arg-type]
    client = make_client(base_url=server.base_url)
    result = client.request(endpoint("get_item"), dict, path_params={"item_id": "7"})
    assert result == {"id": "7", "blob": "x" * 500}


def test_a_body_that_fails_to_decode_is_a_validation_error(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    server = http_server(_encoded_handler(b"not gzip at all", "gzip"))
    client = make_client(base_url=server.base_url)
    with pytest.raises(APIResponseValidationError, match="could not be decoded"):
        client.request(endpoint("get_item"), dict, path_params={"item_id": "7"})
