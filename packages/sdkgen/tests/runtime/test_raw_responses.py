"""Issue 11, points 3 and 4, at run time: ``with_raw_response`` / ``with_streaming_response``
on a generated SDK (status, headers, timing and retries; ``parse()`` as the plain method, errors
included; a streamed body read lazily, within the size limit, the connection released on exit),
prebuilt request models, and no idempotency key on GET. Against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import importlib
import inspect
import json
import sys
import tracemalloc
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any, ClassVar

import pytest
import sdkgen.codegen as codegen
from sdkgen.runtime import (
    APIResponseValidationError,
    FutureHandle,
    NotFoundError,
    ResponseTooLargeError,
)

from ._support import HTTPServerThread

KEY = "shelf-key-0123456789"
BLOB = bytes(range(256)) * 4096  # 1 MiB
LINES = "".join(f"line {i}\n" for i in range(2000)).encode()

MANIFEST = """\
manifest_version: 1
api:
  name: shelf
  title: Shelf
  client_class: ShelfAPI
  version: "1"
  base_url: http://127.0.0.1:9
  auth: {header: X-Shelf-Key, env: SHELF_TEST_KEY}
  idempotency_header: Idempotency-Key
  retry_policies:
    default: {max_retries: 2, initial_delay: 0.01, max_delay: 0.02}
    none: {max_retries: 0}
  pools:
    default: {max_connections: 1, timeout: 10}
  futures:
    poll_endpoint: poll
    request_id_field: job_id
    pending: {field: state, equals: running}
    failed: {field: error}
resources:
  books:
    endpoints:
      get_book:
        method: GET
        path: /books/{book_id}
        path_params: {book_id: {schema: {type: string}}}
        response: Book
        idempotent: true
      create_book:
        method: POST
        path: /books
        request: NewBook
        response: Book
      download:
        method: GET
        path: /blobs/{name}
        path_params: {name: {schema: {type: string}}}
        response: binary
        max_response_bytes: 4194304
      start_job:
        method: POST
        path: /jobs
        request: NewJob
        response: JobHandle
        future: {result: JobResult}
      poll:
        method: POST
        path: /jobs/poll
        request: JobHandle
        response: JobState
        retry: none
schemas:
  Genre: {enum: [poetry, prose]}
  NewBook:
    type: object
    properties:
      title: {type: string, minLength: 1}
      genre: {$ref: '#/schemas/Genre', default: prose}
    required: [title]
  Book:
    type: object
    properties:
      id: {type: string}
      title: {type: string}
    required: [id, title]
  NewJob:
    type: object
    properties: {size: {type: integer}}
    required: [size]
  JobHandle:
    type: object
    properties: {job_id: {type: string}}
    required: [job_id]
  JobState: {type: object, additionalProperties: true}
  JobResult:
    type: object
    properties: {total: {type: integer}}
    required: [total]
"""


class _Shelf(BaseHTTPRequestHandler):
    """The API: books, blobs (whole, line by line, too big) and a job that finishes at once."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, Any]]] = []
    flaky: ClassVar[int] = 0  # how many 503s /books/flaky answers before its book

    def log_message(self, *args: Any) -> None:
        pass

    def handle(self) -> None:
        # The client hanging up mid-body is what several tests do on purpose.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            super().handle()

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                **{k.lower(): v for k, v in self.headers.items()},
            }
        )
        return body

    def do_GET(self) -> None:
        self._record()
        name = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/books/"):
            if name == "missing":
                return self._json(404, {"detail": "no such book"})
            if name == "broken":
                return self._json(200, {"id": "b1"})  # no title: fails its schema
            if name == "flaky" and type(self).flaky > 0:
                type(self).flaky -= 1
                return self._json(503, {"detail": "busy"})
            return self._json(200, {"id": name, "title": f"The {name}"}, {"X-Request-Id": "r-1"})
        if name == "lines":
            return self._bytes(LINES, "text/plain")
        if name == "big":  # chunked, no length: the limit is found while reading
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(8):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(BLOB), BLOB))
            self.wfile.write(b"0\r\n\r\n")
            return None
        return self._bytes(BLOB, "application/octet-stream")

    def do_POST(self) -> None:
        body = json.loads(self._record() or b"{}")
        if self.path == "/books":
            return self._json(201, {"id": "new", "title": body["title"]})
        if self.path == "/jobs":
            return self._json(200, {"job_id": f"job-{body['size']}"})
        if self.path == "/jobs/poll":
            return self._json(200, {"total": int(body["job_id"].split("-")[1]) * 2})
        return self._json(404, {"detail": "no route"})

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._bytes(payload, "application/json", started=True)

    def _bytes(self, payload: bytes, ctype: str, *, started: bool = False) -> None:
        if not started:
            self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("raw")
    manifest = root / "shelf.yaml"
    manifest.write_text(MANIFEST)
    codegen.generate(manifest, root / "shelf_raw_sdk", runtime="sdkgen.runtime")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("shelf_raw_sdk")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.startswith("shelf_raw_sdk")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    served = HTTPServerThread(_Shelf, lifetime=120, max_connections=200)
    try:
        yield served.base_url
    finally:
        served.stop()


@pytest.fixture
def api(sdk: ModuleType, server: str) -> Iterator[Any]:
    _Shelf.seen.clear()
    with sdk.ShelfAPI(base_url=server, api_key=KEY, timeout=20) as client:
        yield client


# -- with_raw_response ---------------------------------------------------------------------


def test_raw_response_has_the_status_headers_request_and_parses_as_the_method(api: Any) -> None:
    raw = api.books.with_raw_response.get_book("b7")
    assert raw.status_code == 200
    assert raw.headers["x-request-id"] == "r-1"
    assert raw.method == "GET"
    assert raw.url.path == "/books/b7"
    assert raw.endpoint == "get_book"
    assert raw.retries_taken == 0
    assert isinstance(raw.elapsed, datetime.timedelta)
    assert raw.elapsed >= datetime.timedelta(0)
    assert raw.json() == {"id": "b7", "title": "The b7"}
    assert raw.parse() == api.books.get_book("b7")
    assert raw.parse() is raw.parse()  # decoded once


def test_raw_response_counts_the_retries_taken(api: Any) -> None:
    _Shelf.flaky = 2
    raw = api.books.with_raw_response.get_book("flaky")
    assert raw.retries_taken == 2
    assert raw.parse().title == "The flaky"
    assert len(_Shelf.seen) == 3


def test_an_error_status_raises_as_the_plain_method_does(api: Any) -> None:
    with pytest.raises(NotFoundError, match="no such book") as plain:
        api.books.get_book("missing")
    with pytest.raises(NotFoundError, match="no such book") as raw:
        api.books.with_raw_response.get_book("missing")
    assert type(raw.value) is type(plain.value)
    assert raw.value.response is not None
    assert raw.value.response.status_code == 404


def test_parse_validates_as_the_plain_method(api: Any) -> None:
    with pytest.raises(APIResponseValidationError, match="title"):
        api.books.get_book("broken")
    raw = api.books.with_raw_response.get_book("broken")  # the answer itself is fine to see
    assert raw.json() == {"id": "b1"}
    with pytest.raises(APIResponseValidationError, match="title"):
        raw.parse()


def test_raw_binary_and_future_endpoints_parse_to_what_their_methods_return(api: Any) -> None:
    raw = api.books.with_raw_response.download("blob")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.parse() == BLOB
    job = api.books.with_raw_response.start_job(size=21)
    assert job.status_code == 200
    handle = job.parse()
    assert isinstance(handle, FutureHandle)
    assert handle.result(timeout=10).total == 42


def test_async_raw_response(sdk: ModuleType, server: str) -> None:
    async def main() -> None:
        async with sdk.AsyncShelfAPI(base_url=server, api_key=KEY, timeout=20) as api:
            raw = await api.books.with_raw_response.get_book("b2")
            assert raw.status_code == 200
            assert raw.retries_taken == 0
            assert (await raw.parse()).title == "The b2"
            with pytest.raises(NotFoundError):
                await api.books.with_raw_response.get_book("missing")
            broken = await api.books.with_raw_response.get_book("broken")
            with pytest.raises(APIResponseValidationError):
                await broken.parse()
            made = await api.books.with_raw_response.create_book(title="Odes", genre="poetry")
            assert made.status_code == 201
            assert (await made.parse()).title == "Odes"

    asyncio.run(main())


# -- with_streaming_response ---------------------------------------------------------------


def test_streaming_response_has_headers_before_the_body_and_reads_it_in_chunks(
    api: Any,
) -> None:
    tracemalloc.start()
    try:
        with api.books.with_streaming_response.download("blob") as resp:
            assert resp.status_code == 200
            assert resp.headers["content-length"] == str(len(BLOB))
            assert not resp.is_closed  # nothing read yet
            size = sum(len(chunk) for chunk in resp.iter_bytes(16384))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == len(BLOB)
    assert resp.is_closed
    assert peak < len(BLOB) // 2, peak  # a buffered body alone would be len(BLOB)


def test_streaming_response_lines_read_and_parse(api: Any) -> None:
    with api.books.with_streaming_response.download("lines") as resp:
        lines = list(resp.iter_lines())
    assert lines[0] == "line 0"
    assert len(lines) == 2000
    with api.books.with_streaming_response.download("blob") as resp:
        assert resp.read() == BLOB
    with api.books.with_streaming_response.get_book("b3") as resp:
        assert resp.parse() == api.books.get_book("b3")


def test_streaming_response_keeps_to_the_size_limit(api: Any) -> None:
    with (
        api.books.with_streaming_response.download("big") as resp,
        pytest.raises(ResponseTooLargeError, match="download"),
    ):
        for _ in resp.iter_bytes():
            pass


def test_leaving_the_block_releases_the_connection_also_on_an_exception(api: Any) -> None:
    # The pool has one connection: a response left open would make the next call wait for it.
    opened: list[Any] = []

    def read_a_little_then_fail() -> None:
        with api.books.with_streaming_response.download("blob") as resp:
            opened.append(resp)
            next(iter(resp.iter_bytes(1024)))
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        read_a_little_then_fail()
    assert opened[0].is_closed
    for _ in range(3):
        with api.books.with_streaming_response.download("blob") as resp:
            assert resp.status_code == 200  # body left unread: closed on exit
    assert api.books.get_book("b4", timeout=5).title == "The b4"


def test_streaming_error_status_raises_on_entering(api: Any) -> None:
    with pytest.raises(NotFoundError), api.books.with_streaming_response.get_book("missing"):
        pytest.fail("the block must not run")


def test_async_streaming_response(sdk: ModuleType, server: str) -> None:
    async def main() -> None:
        async with sdk.AsyncShelfAPI(base_url=server, api_key=KEY, timeout=20) as api:
            async with api.books.with_streaming_response.download("lines") as resp:
                assert resp.status_code == 200
                lines = [line async for line in resp.iter_lines()]
            assert len(lines) == 2000
            assert resp.is_closed
            with pytest.raises(RuntimeError):
                async with api.books.with_streaming_response.download("blob") as resp:
                    raise RuntimeError("leave")
            assert resp.is_closed
            async with api.books.with_streaming_response.get_book("b5") as resp:
                assert (await resp.parse()).title == "The b5"
            async with api.books.with_streaming_response.download("big") as resp:
                with pytest.raises(ResponseTooLargeError):
                    async for _ in resp.iter_bytes():
                        pass

    asyncio.run(main())


# -- request models and idempotency keys ---------------------------------------------------


def test_a_prebuilt_request_model_sends_the_same_body(api: Any, sdk: ModuleType) -> None:
    by_fields = api.books.create_book(title="Odes", genre="poetry")
    by_model = api.books.create_book(request=sdk.models.NewBook(title="Odes", genre="poetry"))
    assert by_fields == by_model
    first, second = _Shelf.seen
    assert first["body"] == second["body"]
    assert json.loads(second["body"]) == {"title": "Odes", "genre": "poetry"}


def test_request_and_field_keywords_are_mutually_exclusive(api: Any, sdk: ModuleType) -> None:
    model = sdk.models.NewBook(title="Odes")
    with pytest.raises(TypeError, match=r"`request`.*`title`"):
        api.books.create_book(request=model, title="Other")
    with pytest.raises(TypeError, match=r"missing required keyword argument.*`title`"):
        api.books.create_book()
    with pytest.raises(TypeError, match="`request` must be a NewBook, not dict"):
        api.books.create_book(request={"title": "Odes"})
    assert _Shelf.seen == []  # nothing was sent


def test_get_methods_take_no_idempotency_key_and_send_none(api: Any) -> None:
    assert "idempotency_key" not in inspect.signature(api.books.get_book).parameters
    assert "idempotency_key" in inspect.signature(api.books.create_book).parameters
    api.books.get_book("b6")
    api.books.create_book(title="Odes", idempotency_key="k-1")
    get, post = _Shelf.seen
    assert "idempotency-key" not in get
    assert post["idempotency-key"] == "k-1"
