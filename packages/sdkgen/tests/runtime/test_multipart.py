"""Multipart bodies (``body="multipart"``): the parts on the wire (boundary, per-part headers,
escaped file names), every kind of file argument, refusals before sending, retries that send
the file again from its start (real servers on 127.0.0.1), and bounded memory for a large file
(the RSS of a subprocess)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from pytest_httpx import HTTPXMock
from sdkgen.runtime import (
    ClientConfig,
    EndpointSpec,
    RequestOptions,
    RetryPolicy,
    encode_multipart_body,
)
from tests.runtime._multipart_support import split_parts
from tests.runtime._support import (
    API_SPEC,
    AsyncFactory,
    StartHTTPServer,
    SyncFactory,
    async_client_class,
    sync_client_class,
)

UPLOAD = EndpointSpec(
    id="upload", method="POST", path="/upload", body="multipart", file_fields=("file", "extras")
)
RETRYING = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002, deadline=30.0)


class Upload(BaseModel):
    file: Any
    extras: list[Any] | None = None
    note: str | None = None
    tags: list[str] | None = None
    public: bool = False
    count: int | None = None


def _sent(httpx_mock: HTTPXMock) -> tuple[str, bytes, dict[str, str]]:
    request = httpx_mock.get_request()
    assert request is not None
    return request.headers["Content-Type"], request.read(), dict(request.headers)


def test_fields_and_files_become_parts_with_their_headers(
    make_client: SyncFactory, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    report = tmp_path / "q3 report.csv"
    report.write_bytes(b"a,b\r\n1,2\r\n")
    httpx_mock.add_response(json={})
    make_client().request(
        UPLOAD,
        dict,
        body=Upload(
            file=report,
            extras=[b"\x00\xff raw", ("notes.txt", b"hi", "text/plain")],
            note="caf\u00e9",
            tags=["x", "y"],
            public=True,
            count=3,
        ),
    )
    content_type, body, headers = _sent(httpx_mock)
    assert headers["content-length"] == str(len(body))
    parts = split_parts(content_type, body)
    assert [(p.name, p.filename) for p in parts] == [
        ("file", "q3 report.csv"),
        ("extras", "extras"),  # bytes without a name: the field's
        ("extras", "notes.txt"),
        ("note", None),
        ("tags", None),
        ("tags", None),
        ("public", None),
        ("count", None),
    ]
    assert [p.data for p in parts] == [
        b"a,b\r\n1,2\r\n",
        b"\x00\xff raw",
        b"hi",
        "caf\u00e9".encode(),
        b"x",
        b"y",
        b"true",
        b"3",
    ]
    assert [p.headers.get("content-type") for p in parts[:3]] == [
        "application/octet-stream",
        "application/octet-stream",
        "text/plain",
    ]
    assert all("content-type" not in p.headers for p in parts[3:])  # text parts


def test_the_exact_bytes_of_a_small_body() -> None:
    body = encode_multipart_body(
        "upload", {"note": "n", "file": ("a.txt", b"AB", "text/plain")}, boundary="XyZ"
    )
    assert body.content_type == "multipart/form-data; boundary=XyZ"
    expected = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="note"\r\n\r\n'
        b"n\r\n"
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n"
        b"AB\r\n"
        b"--XyZ--\r\n"
    )
    assert b"".join(body) == expected
    assert body.length == len(expected)


def test_names_and_file_names_are_escaped_as_browsers_do() -> None:
    body = encode_multipart_body("upload", {"file": ('a"b\r\nc\\\u00fc.txt', b"x")}, boundary="B")
    head = b"".join(body).split(b"\r\n\r\n")[0]
    # CR, LF and `"` percent-encoded (no header can be injected), the rest UTF-8 as it is.
    assert head.split(b"\r\n") == [
        b"--B",
        'Content-Disposition: form-data; name="file"; filename="a%22b%0D%0Ac\\\u00fc.txt"'.encode(),
        b"Content-Type: application/octet-stream",
    ]


def test_a_file_object_is_sent_from_where_it_stands(
    make_client: SyncFactory, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"HEADERpayload")
    httpx_mock.add_response(json={})
    with path.open("rb") as fh:
        fh.seek(6)
        make_client().request(UPLOAD, dict, body=Upload(file=fh))
    parts = split_parts(*_sent(httpx_mock)[:2])
    assert (parts[0].filename, parts[0].data) == ("data.bin", b"payload")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("report.csv", r"file field `file`: a str is neither bytes nor a path"),
        ({"a": 1}, r"file field `file`: got dict"),
        (("x",), r"file field `file`: a tuple is \(filename, content\)"),
        (("x", b"1", "text/plain\r\nX-Evil: 1"), r"file field `file`: content type .* is not"),
    ],
)
def test_a_value_that_cannot_be_a_file_is_refused_before_sending(
    make_client: SyncFactory, httpx_mock: HTTPXMock, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=rf"upload: {message}"):
        make_client().request(UPLOAD, dict, body={"file": value})
    assert httpx_mock.get_requests() == []


def test_text_mode_missing_and_unseekable_files_are_refused(
    make_client: SyncFactory, httpx_mock: HTTPXMock, tmp_path: Path
) -> None:
    path = tmp_path / "t.txt"
    path.write_text("x")
    client = make_client()
    with path.open("r") as text, pytest.raises(ValueError, match="open it with 'rb'"):
        client.request(UPLOAD, dict, body=Upload(file=text))
    with pytest.raises(ValueError, match="not a readable regular file"):
        client.request(UPLOAD, dict, body=Upload(file=tmp_path / "missing.bin"))
    read_end, write_end = os.pipe()
    with (
        os.fdopen(read_end, "rb") as pipe,
        os.fdopen(write_end, "wb"),
        pytest.raises(ValueError, match=r"not seekable .* a retry could not send it again"),
    ):
        client.request(UPLOAD, dict, body=Upload(file=pipe))
    assert httpx_mock.get_requests() == []


def test_a_nested_value_is_refused_and_extra_body_adds_parts(
    make_client: SyncFactory, httpx_mock: HTTPXMock
) -> None:
    client = make_client()
    with pytest.raises(ValueError, match=r"upload: multipart field `meta` is nested"):
        client.request(
            UPLOAD, dict, body=Upload(file=b"1"), options=RequestOptions(extra_body={"meta": {}})
        )
    assert httpx_mock.get_requests() == []
    httpx_mock.add_response(json={})
    client.request(
        UPLOAD,
        dict,
        body=Upload(file=b"1", note="a"),
        options=RequestOptions(extra_body={"note": "b", "beta": 1, "more": ("m.bin", b"2")}),
    )
    parts = split_parts(*_sent(httpx_mock)[:2])
    assert [(p.name, p.filename, p.data) for p in parts] == [
        ("file", "file", b"1"),
        ("note", None, b"b"),  # the caller's key wins
        ("public", None, b"false"),
        ("beta", None, b"1"),
        ("more", "m.bin", b"2"),
    ]


# -- retries against a real server -----------------------------------------------------------


class _FlakyUpload(BaseHTTPRequestHandler):
    """Reads every body whole; answers 503 to the first request of each round, then 200."""

    protocol_version = "HTTP/1.1"
    bodies: ClassVar[list[tuple[str, bytes]]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = self.rfile.read(length)
        type(self).bodies.append((self.headers["Content-Type"], body))
        status = 503 if len(type(self).bodies) % 2 == 1 else 200
        payload = json.dumps({"received": len(body)}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_RETRY_API = dataclasses.replace(API_SPEC, retry_policies={"default": RETRYING})


def _file_args(tmp_path: Path) -> list[tuple[str, Any, bytes]]:
    data = os.urandom(300_000)  # several chunks
    path = tmp_path / "blob.bin"
    path.write_bytes(b"skip" + data)
    fh = path.open("rb")
    fh.seek(4)
    return [("path", ("blob.bin", path, "application/x-blob"), b"skip" + data), ("fh", fh, data)]


def test_a_retry_sends_the_file_again_from_its_start(
    make_client: SyncFactory, http_server: StartHTTPServer, tmp_path: Path
) -> None:
    _FlakyUpload.bodies = []
    server = http_server(_FlakyUpload)
    client = make_client(sync_client_class(_RETRY_API), base_url=server.base_url)
    for _, value, expected in _file_args(tmp_path):
        reply = client.request(UPLOAD, dict, body=Upload(file=value, note="n"))
        assert reply == {"received": len(_FlakyUpload.bodies[-1][1])}
        first, second = _FlakyUpload.bodies[-2:]
        assert first == second  # the same boundary and bytes, the file read again
        parts = split_parts(*second)
        assert parts[0].data == expected
        if hasattr(value, "close"):
            value.close()
    assert len(_FlakyUpload.bodies) == 4


@pytest.mark.parametrize("backend", ["httpx", "pyqwest"])
async def test_the_async_client_sends_the_file_again_too(
    make_async_client: AsyncFactory, http_server: StartHTTPServer, tmp_path: Path, backend: str
) -> None:
    pytest.importorskip(backend)
    _FlakyUpload.bodies = []
    server = http_server(_FlakyUpload)
    config = ClientConfig.resolve(_RETRY_API, base_url=server.base_url, http_backend=backend)
    client = make_async_client(async_client_class(_RETRY_API), config=config)
    for _, value, expected in _file_args(tmp_path):
        await client.request(UPLOAD, dict, body=Upload(file=value))
        first, second = _FlakyUpload.bodies[-2:]
        assert first == second
        assert split_parts(*second)[0].data == expected
        if hasattr(value, "close"):
            value.close()


# -- bounded memory ---------------------------------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    """Reads the body in 1 MiB pieces and answers its size and SHA-256 (never holds it)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        left = int(self.headers["Content-Length"])
        digest = hashlib.sha256()
        while left:
            piece = self.rfile.read(min(left, 1 << 20))
            if not piece:
                break
            digest.update(piece)
            left -= len(piece)
        reply = {"sha256": digest.hexdigest(), "content_type": self.headers["Content-Type"]}
        payload = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


_CHILD = textwrap.dedent(
    """
    import asyncio, hashlib, json, resource, sys
    from pathlib import Path
    from typing import ClassVar, Mapping
    from sdkgen.runtime import (
        APISpec, AsyncAPIClient, EndpointSpec, PoolSpec, RetryPolicy, SyncAPIClient,
        encode_multipart_body,
    )

    API = APISpec(
        name="up", title="Up", version="1", base_url=sys.argv[1], auth=None,
        retry_policies={"default": RetryPolicy(max_retries=0)}, pools={"default": PoolSpec()},
    )
    SPEC = EndpointSpec(
        id="upload", method="POST", path="/u", body="multipart", file_fields=("file",)
    )

    class Sync(SyncAPIClient):
        api: ClassVar[APISpec] = API
        endpoints: ClassVar[Mapping[str, EndpointSpec]] = {"upload": SPEC}

    class Async(AsyncAPIClient):
        api: ClassVar[APISpec] = API
        endpoints: ClassVar[Mapping[str, EndpointSpec]] = {"upload": SPEC}

    def peak_mib():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    path = Path(sys.argv[2])
    body = {"file": path, "note": "big"}
    with Sync(base_url=sys.argv[1]) as client:
        client.request(SPEC, dict, body={"file": b"warm-up"})  # imports, pools, buffers
        baseline = peak_mib()
        sync_reply = client.request(SPEC, dict, body=body)
    async def run():
        async with Async(base_url=sys.argv[1]) as client:
            return await client.request(SPEC, dict, body=body)
    async_reply = asyncio.run(run())
    peak = peak_mib()
    expected = []  # the body each request should have sent, hashed as it is iterated
    for reply in (sync_reply, async_reply):
        boundary = reply["content_type"].split("boundary=")[1]
        digest = hashlib.sha256()
        for chunk in encode_multipart_body("u", body, file_fields=("file",), boundary=boundary):
            digest.update(chunk)
        expected.append(digest.hexdigest())
    print(json.dumps({"baseline": baseline, "peak": peak, "expected": expected,
                      "got": [sync_reply["sha256"], async_reply["sha256"]]}))
    """
)


def test_a_large_file_is_streamed_in_bounded_memory(
    http_server: StartHTTPServer, tmp_path: Path
) -> None:
    size = 64 * 1024 * 1024
    path = tmp_path / "large.bin"
    block = os.urandom(1 << 20)
    with path.open("wb") as out:
        for i in range(size // len(block)):
            out.write(i.to_bytes(4, "big") + block[4:])
    server = http_server(_Sink, lifetime=120.0)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, server.base_url, str(path)],
        capture_output=True,
        text=True,
        timeout=100,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # The server received, byte for byte, the bodies planned for the whole file.
    assert result["got"] == result["expected"]
    grown = result["peak"] - result["baseline"]
    # Reading the file into memory would add at least 64 MiB; streaming adds a few chunks.
    assert grown < 24, f"peak RSS grew by {grown:.1f} MiB while sending a 64 MiB file"
