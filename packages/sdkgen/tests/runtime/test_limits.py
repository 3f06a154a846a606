"""Issue 10, finding 2: an answer is bounded in size while it is read and while it is decoded.

Before: a 1 MB gzip or zstd answer grew the process by 2 GB (httpx decoded whole chunks and
buffered the whole body), an endless chunked answer past 5.7 GB. Now each endpoint has a limit
(manifest data, ``max_response_bytes``; 256 MiB unless the API or the endpoint says otherwise),
counted on the decoded bytes as they come out of the decompressor, 64 KiB at a time; a stream's
limit is per event.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import zstandard
from sdkgen.runtime import (
    DEFAULT_MAX_RESPONSE_BYTES,
    AsyncAPIClient,
    ClientConfig,
    EndpointSpec,
    ResponseTooLargeError,
    SyncAPIClient,
)
from sdkgen.runtime._body_limit import LimitedBody
from sdkgen.runtime._config import HTTPBackend
from tests.runtime._hostile import MIB, OK_BODY, HostileHandler
from tests.runtime._support import (
    API_KEY,
    API_SPEC,
    AsyncFactory,
    HTTPServerThread,
    StartHTTPServer,
    SyncFactory,
)

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 1 * MIB
BACKENDS = ["httpx", "pyqwest", "sync"]


def blob(path: str, limit: int | None = LIMIT) -> EndpointSpec:
    return EndpointSpec(
        id="fetch_blob",
        method="GET",
        path=path,
        idempotent=True,
        retry="none",
        max_response_bytes=limit,
    )


def watch(path: str, limit: int = 64 * 1024) -> EndpointSpec:
    return EndpointSpec(
        id="watch",
        method="GET",
        path=path,
        accept="text/event-stream",
        stream="sse",
        retry="none",
        max_response_bytes=limit,
    )


@pytest.fixture
def hostile(http_server: StartHTTPServer) -> HTTPServerThread:
    return http_server(HostileHandler)


def make(
    backend: str, base_url: str, make_client: SyncFactory, make_async_client: AsyncFactory
) -> SyncAPIClient | AsyncAPIClient:
    if backend == "sync":
        return make_client(base_url=base_url)
    config = ClientConfig.resolve(
        API_SPEC, base_url=base_url, api_key=API_KEY, http_backend=cast(HTTPBackend, backend)
    )
    return make_async_client(config=config)


async def call(client: SyncAPIClient | AsyncAPIClient, spec: EndpointSpec) -> Any:
    if isinstance(client, SyncAPIClient):
        return client.request(spec, Any)  # type: ignore[arg-type]
    return await client.request(spec, Any)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("path", ["/gzip", "/zstd", "/endless"])
async def test_a_bomb_or_an_endless_answer_stops_at_the_endpoint_limit(
    backend: str,
    path: str,
    hostile: HTTPServerThread,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    client = make(backend, hostile.base_url, make_client, make_async_client)
    with pytest.raises(ResponseTooLargeError) as info:
        await call(client, blob(path))
    err = info.value
    assert err.limit == LIMIT
    assert not err.retryable
    text = str(err)
    # Names the endpoint, the limit and how to raise it.
    assert "fetch_blob" in text
    assert str(LIMIT) in text
    assert "max_response_bytes" in text
    # The client is still usable: the connection was dropped, not left half-read.
    assert await call(client, blob("/small")) == {"ok": True}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("path", ["/gzip-ok", "/deflate-ok", "/zstd-ok"])
async def test_compressed_answers_within_the_limit_are_decoded(
    backend: str,
    path: str,
    hostile: HTTPServerThread,
    make_client: SyncFactory,
    make_async_client: AsyncFactory,
) -> None:
    client = make(backend, hostile.base_url, make_client, make_async_client)
    assert await call(client, blob(path)) == json.loads(OK_BODY)
    # Exactly at the limit is allowed; one byte less is not.
    assert await call(client, blob(path, len(OK_BODY))) == json.loads(OK_BODY)
    with pytest.raises(ResponseTooLargeError):
        await call(client, blob(path, len(OK_BODY) - 1))


async def test_a_stream_is_bounded_per_event_not_in_total(
    hostile: HTTPServerThread, make_async_client: AsyncFactory
) -> None:
    client = make_async_client(base_url=hostile.base_url)
    # 20,000 small events, 320 KB in all, under a 64 KiB limit: every one arrives.
    stream = await client.stream(watch("/sse-many"), dict)
    count = 0
    async with stream:
        async for event in stream:
            assert event == {"n": 1}
            count += 1
    assert count == 20000
    # One event that never ends stops at the limit.
    stream = await client.stream(watch("/sse-endless"), dict)
    async with stream:
        with pytest.raises(ResponseTooLargeError) as info:
            _ = [event async for event in stream]
    assert "one event" in str(info.value)
    assert "watch" in str(info.value)


def test_a_sync_stream_is_bounded_per_event(
    hostile: HTTPServerThread, make_client: SyncFactory
) -> None:
    client = make_client(base_url=hostile.base_url)
    with client.stream(watch("/sse-many"), dict) as stream:
        assert sum(1 for _ in stream) == 20000
    with client.stream(watch("/sse-endless"), dict) as stream, pytest.raises(ResponseTooLargeError):
        _ = list(stream)


def test_the_limit_is_manifest_data() -> None:
    assert DEFAULT_MAX_RESPONSE_BYTES == 256 * MIB
    assert EndpointSpec(id="x", method="GET", path="/").max_response_bytes is None


def _child(limit: str, mode: str, *paths: str) -> dict[str, Any]:
    # A fresh process: its peak RSS (a high-water mark) says nothing of earlier tests.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.runtime._bomb_child", limit, mode, *paths],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("limit", "mode", "paths", "bound_mb"),
    [
        # 1 GiB of gzip, 2 GiB of zstd and an endless body, under a 16 MiB limit.
        (str(16 * MIB), "httpx", (), 150),
        (str(16 * MIB), "sync", (), 150),
        # 2 GiB of zstd under the default limit (256 MiB; the body is buffered up to it).
        ("default", "pyqwest", ("/zstd",), 400),
    ],
)
def test_memory_stays_bounded_while_a_hostile_server_sends(
    limit: str, mode: str, paths: tuple[str, ...], bound_mb: int
) -> None:
    result = _child(limit, mode, *paths)
    assert all(e.startswith("ResponseTooLargeError") for e in result["errors"]), result
    assert result["growth_mb"] < bound_mb, result


# -- the decoder itself, without a server --------------------------------------------------


class _Over(Exception):
    pass


def _read(body: bytes, encodings: list[str], limit: int, *, per_event: bool = False) -> bytes:
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    limited = LimitedBody(
        chunks, encodings=encodings, limit=limit, too_large=_Over, per_event=per_event
    )
    return b"".join(limited)


@pytest.mark.parametrize(
    ("encodings", "encode"),
    [
        (["deflate"], lambda d: zlib.compress(d)[2:-4]),  # raw deflate, no zlib header
        (["deflate"], zlib.compress),
        (["x-gzip"], gzip.compress),
        (["zstd"], lambda d: zstd_frame(d[:50000]) + zstd_frame(d[50000:])),  # two frames
        (["gzip", "zstd"], lambda d: zstd_frame(gzip.compress(d))),  # applied in that order
        (["identity", "br"], lambda d: d),  # passed through, as httpx does
    ],
)
def test_each_encoding_decodes_to_the_original(encodings: list[str], encode: Any) -> None:
    assert _read(encode(OK_BODY), encodings, len(OK_BODY)) == OK_BODY
    with pytest.raises(_Over):
        _read(encode(OK_BODY), encodings, len(OK_BODY) - 1)


def zstd_frame(data: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(data)


def test_a_corrupt_body_is_a_decoding_error() -> None:
    broken = bytearray(gzip.compress(OK_BODY))
    broken[20] ^= 0xFF
    with pytest.raises(httpx.DecodingError, match="gzip"):
        _read(bytes(broken), ["gzip"], 10 * MIB)
    with pytest.raises(httpx.DecodingError, match="zstd"):
        _read(b"\x28\xb5\x2f\xfd" + b"\xff" * 64, ["zstd"], 10 * MIB)


def test_events_are_counted_from_the_last_blank_line_across_chunks() -> None:
    # Events of 990 bytes whose separators fall across the 1,000-byte chunks.
    for sep in (b"\n\n", b"\r\n\r\n", b"\r\r"):
        event = b"data: " + b"x" * (990 - len(sep) - 6) + sep
        assert len(_read(event * 50, [], 1000, per_event=True)) == 990 * 50
        with pytest.raises(_Over):
            _read(event.rstrip() * 50, [], 1000, per_event=True)
