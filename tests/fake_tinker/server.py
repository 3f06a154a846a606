"""A fake Tinker server for tests: real HTTP on 127.0.0.1, in-memory state, faults on cue.

Speaks the JSON wire format (like the open-source skyrl-tx server): request bodies are validated
with ``tinkex._generated.models`` (422 ``{"detail": ...}`` on a bad body, 404 ``{"detail": ...}``
on an unknown id) and replies are built from the same models. With ``protobuf=True`` (default)
it also speaks the protobuf wire format of current servers (``tests/fake_tinker/wire.py``): a protobuf
``forward_backward`` body is taken (``forward_only`` ones as a ``forward``), and a poll that
accepts ``application/x-protobuf`` gets ``ForwardBackwardOutput`` and ``SampleResponse``
results as protobuf; with ``protobuf=False``, a protobuf body is refused with 415, as JSON-only
servers do. (A client picks protobuf only where ``/client/config`` answers: ``client_config``.)

Use::

    with FakeTinker(dedupe=True, try_agains=1) as server:   # or server.start() / server.stop()
        client = httpx.Client(base_url=server.base_url)
        ...
        assert server.optim_steps[model_id] == 20

or the ``fake_tinker`` fixture factory (``tests/fake_tinker/plugin.py``).

Futures
    Every future-returning POST (create_model, forward_backward, forward, optim_step,
    save_weights, save_weights_for_sampler, save_weights_external, load_weights, unload_model,
    asample) is applied at once and replies ``{"request_id", "model_id"?,
    "sample_sequence_ids"?}``. ``POST /api/v1/retrieve_future`` then replies
    ``{"type": "try_again", "request_id", "queue_state"}`` ``try_agains`` times for that future
    (``server.try_agains_by_endpoint[name]`` overrides per endpoint), then the result JSON, or
    ``{"error", "category"}`` for a failed request (e.g. an unknown base model). Unknown ids are
    404; ``server.expire_future(request_id)`` / ``server.expire_futures(endpoint)`` make later
    polls 410. Results stay retrievable until expired. With ``server.metadata_only = True``
    the first poll that allows it gets ``{"status": "complete_metadata", ...}``.

Session-wide futures (``POST /api/v1/retrieve_futures``, served always; the client uses it
    when ``config_flags["sample_use_retrieve_futures"]`` is set)
    Every asample of a sampling session (a failed one too) appends a completion
    (``{"state": "finished"|"failed", "request_id"}``) to the log of its target
    ``(sampling_session_id, seq_id // 1_000_000_000)``, numbered from 1. A poll returns the
    completions after ``prev_cursor`` and the last number as ``cursor`` (the ones at or before
    ``prev_cursor`` are trimmed); with none, it waits up to its ``timeout`` (null: the server
    default, ``futures_long_poll`` seconds, which also caps any timeout) and then replies
    ``{"completions": [], "cursor": prev_cursor}``. ``futures_hold = True`` holds new
    completions back until ``release_futures()``. ``retrieved_acks`` lists every id received
    in ``retrieved_request_ids``, in order. Unknown sampling sessions are 404.

Dedupe modes
    ``dedupe=True`` (default): a resent state-changing request - same ``X-Idempotency-Key``
    (per method + path), or same ``(model_id, seq_id)`` for training requests (also
    ``(session, model_seq_id)`` for create_model / create-via-load, ``(sampling_session_id,
    seq_id)`` for asample, ``(session, sampling_session_seq_id)`` for create_sampling_session) -
    gets the original reply (the original future's request id) and is NOT applied again. The
    same seq key on a different endpoint is a client bug: 400. ``dedupe=False``: every request
    that arrives is applied (a resent optim_step steps twice; a resent create_model or a
    save_weights without ``overwrite`` fails its future with "already exists", as a real
    non-idempotent server would).

Faults (``tests/fake_tinker/faults.py``)
    ``server.inject(endpoint, fault, times=1)`` arms ``fault`` for the next ``times`` requests
    whose route name (e.g. ``"optim_step"``, ``"retrieve_future"``, ``"finish_session"``), last
    path segment, or path (``"/api/v1/asample"``) equals ``endpoint`` (``"*"`` = any request);
    several injections fire in injection order. Kinds: ``status(code, headers=, body=)`` (reply
    before processing, not applied), ``drop_before()`` (close without reply, not applied),
    ``drop_after()`` (applied, then close without reply), ``truncate_after()`` (applied, short
    body under a larger Content-Length, close), ``delay(s, apply=True)`` (applied, reply after
    ``s`` s; ``apply=False``: sleep then close, not applied), ``malformed_json()`` (applied, 200
    non-JSON), ``bad_schema()`` (applied, 200 JSON violating the response schema), ``fail(msg,
    category=)`` (future resolves to an error; not applied). Sleeps are capped at 30 s and
    ``stop()`` interrupts them. ``latency`` adds a sleep before every request.

Knobs (plain attributes, change them any time)
    ``config_flags`` (overrides of the ClientConfigResponse served when ``client_config=True``),
    ``dynamic_config`` (None: dynamic_config is 404), ``base_models`` (default
    ``["fake/tiny-model"]``), ``try_agains_by_endpoint``, ``expire_sessions`` (heartbeats of
    unknown sessions get 410, not 404), ``expire_session(id)``, ``queue_state``,
    ``metadata_only``, ``listing_lag`` (N: the session listings, ``GET /sessions`` and
    ``GET /sessions/{id}``, leave out the newest N sessions, training runs and sampling sessions,
    as an eventually consistent server may), ``loss_metrics`` (False: forward/backward results
    carry ``metrics == {}``, as skyrl-tx's do). A stopped server cannot be restarted.

Checkpoint downloads (the routes of older servers / skyrl-tx, and of newer servers)
    ``archive_mode`` (None: ``GET .../checkpoints/{id}/archive`` is absent, 405 as before;
    ``"redirect"``: 302 with ``Location`` to ``.../download``, as skyrl-tx does; ``"json"``:
    ``{"url", "expires"}`` pointing at ``/storage/<token>``; ``"direct"``: the archive itself),
    ``archive_ids`` (``"full"``: the id keeps its kind, ``weights/name``; ``"bare"``: skyrl-tx's
    bare name, ``[a-zA-Z0-9_-]+``, which finds only sampler checkpoints; an id with a slash is 404
    "Not Found" there, as the route does not match), ``archives[tinker_path]`` (bytes or a
    ``pathlib.Path`` streamed from disk in ``download_chunk`` pieces; default: a skyrl-style
    tar.gz of the checkpoint's files), ``external_weights_urls`` (False: that route is absent,
    405), ``external_files[tinker_path]`` ({relative path: bytes, Path, or a URL str used as is};
    default: the files of an ``external_weights/`` checkpoint), ``signed_url_ttl`` (seconds until
    the signed URLs expire), ``stall_body`` ((after_bytes, seconds): a streamed body pauses
    there). ``blob_url(data)`` registers bytes / a Path and returns its ``/storage/<token>`` URL.
    ``truncate_after()`` cuts a streamed body in half, as it does any other body.

Counters and logs (read them after the client is done; all are plain containers)
    ``applied[(endpoint, target)]`` Counter of applied requests (target = model_id for training
    calls, sampling session id for asample, session id for session calls, else None);
    ``optim_steps[model_id]``; ``heartbeats[session_id]``; ``seq_log[target]`` seq ids of
    applied state-changing requests in arrival order (creation is seq 0; asample seq ids are
    logged under the sampling session id); ``seq_arrivals[target]`` every arrival that reached
    processing (applied or deduped) as ``(seq_id, endpoint, applied)``; ``requests`` every request as a RecordedRequest, a 4-tuple
    ``(method, path, headers, json)`` (headers lower-cased, path without query; ``.query`` and
    ``.endpoint`` too), ``requests_to(endpoint)`` filters it; ``replies`` every normal reply as
    ``(endpoint, how many requests had arrived when it was sent)``;
    ``deduped`` (endpoint, request key) of replayed requests; ``faults_fired`` (endpoint, kind);
    ``telemetry`` events and ``telemetry_batches``; ``errors`` unexpected handler exceptions;
    state dicts ``sessions``, ``models``, ``futures``, ``checkpoints``, ``samplers``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import itertools
import json
import re
import socket
import tarfile
import threading
import time
import traceback
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from pydantic import BaseModel, ValidationError

from tinkex._generated import models as m

from .faults import MAX_SLEEP, Fault
from .state import (
    CheckpointRecord,
    FutureRecord,
    ModelRecord,
    SamplerRecord,
    SessionRecord,
    forward_outputs,
    now,
    parse_tinker_path,
    sample_outputs,
)
from .wire import PROTOBUF, encode_result, forward_backward_json

__all__ = ["FakeTinker", "RecordedRequest", "Reply"]

_HOST = "127.0.0.1"
_STOP_JOIN_TIMEOUT = 3.0
_INVALID = object()  # a body that is not JSON
_HTTP_IDS = itertools.count(1)


class RecordedRequest(tuple[str, str, dict[str, str], Any]):
    """One request as received: the 4-tuple ``(method, path, headers, json)``.

    ``headers`` has lower-cased names, ``path`` has no query string, ``json`` is the decoded
    body (None when empty or not JSON). Also ``.query`` (dict) and ``.endpoint`` (route name).
    """

    query: dict[str, str]
    endpoint: str

    def __new__(
        cls,
        method: str,
        path: str,
        headers: dict[str, str],
        json: Any,
        query: dict[str, str] | None = None,
        endpoint: str = "",
    ) -> RecordedRequest:
        self = super().__new__(cls, (method, path, headers, json))
        self.query = query or {}
        self.endpoint = endpoint
        return self

    @property
    def method(self) -> str:
        return self[0]

    @property
    def path(self) -> str:
        return self[1]

    @property
    def headers(self) -> dict[str, str]:
        return self[2]

    @property
    def json(self) -> Any:
        return self[3]


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able value, or bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)
    model: type[BaseModel] | None = None  # the body's schema (for bad_schema)


@dataclass
class _Route:
    method: str
    template: str
    name: str
    request_model: type[BaseModel] | None = None
    mutating: bool = False
    future: bool = False
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", self.template)
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
        self.pattern = re.compile(f"^{regex}$")


_P = "/api/v1"
_ROUTES = [
    _Route("POST", f"{_P}/client/config", "get_client_config", m.ClientConfigRequest),
    _Route("POST", f"{_P}/client/dynamic_config", "get_dynamic_config", m.ClientConfigRequest),
    _Route("GET", f"{_P}/healthz", "health_check"),
    _Route("GET", f"{_P}/get_server_capabilities", "get_server_capabilities"),
    _Route("POST", f"{_P}/telemetry", "telemetry", m.TelemetrySendRequest, mutating=True),
    _Route("POST", f"{_P}/create_session", "create_session", m.CreateSessionRequest, True),
    _Route("POST", f"{_P}/session_heartbeat", "session_heartbeat", m.SessionHeartbeatRequest),
    _Route(
        "POST",
        f"{_P}/sessions/{{session_id}}/finish",
        "finish_session",
        m.FinishSessionRequest,
        True,
    ),
    _Route("GET", f"{_P}/sessions", "list_sessions"),
    _Route("GET", f"{_P}/sessions/{{session_id}}", "get_session"),
    _Route("POST", f"{_P}/create_model", "create_model", m.CreateModelRequest, True, True),
    _Route("POST", f"{_P}/get_info", "get_info", m.GetInfoRequest),
    _Route(
        "POST", f"{_P}/forward_backward", "forward_backward", m.ForwardBackwardRequest, True, True
    ),
    _Route("POST", f"{_P}/forward", "forward", m.ForwardRequest, True, True),
    _Route("POST", f"{_P}/optim_step", "optim_step", m.OptimStepRequest, True, True),
    _Route("POST", f"{_P}/save_weights", "save_weights", m.SaveWeightsRequest, True, True),
    _Route(
        "POST",
        f"{_P}/save_weights_for_sampler",
        "save_weights_for_sampler",
        m.SaveWeightsForSamplerRequest,
        True,
        True,
    ),
    _Route(
        "POST",
        f"{_P}/save_weights_external",
        "save_weights_external",
        m.SaveWeightsExternalRequest,
        True,
        True,
    ),
    _Route("POST", f"{_P}/load_weights", "load_weights", m.LoadWeightsRequest, True, True),
    _Route("POST", f"{_P}/unload_model", "unload_model", m.UnloadModelRequest, True, True),
    _Route(
        "POST",
        f"{_P}/create_sampling_session",
        "create_sampling_session",
        m.CreateSamplingSessionRequest,
        True,
    ),
    _Route("POST", f"{_P}/asample", "asample", m.SampleRequest, True, True),
    _Route("POST", f"{_P}/sample_stream", "sample_stream", m.SampleRequest, True),
    _Route("GET", f"{_P}/samplers/{{sampler_id}}", "get_sampler"),
    _Route("POST", f"{_P}/retrieve_future", "retrieve_future", m.FutureRetrieveRequest),
    _Route("POST", f"{_P}/retrieve_futures", "retrieve_futures", m.FuturesRetrieveRequest),
    _Route("POST", f"{_P}/cancel_future", "cancel_future", m.CancelFutureRequest),
    _Route("GET", f"{_P}/training_runs", "list_training_runs"),
    _Route("GET", f"{_P}/training_runs/{{run_id}}", "get_training_run"),
    _Route("GET", f"{_P}/training_runs/{{run_id}}/checkpoints", "list_checkpoints"),
    _Route(
        "DELETE",
        f"{_P}/training_runs/{{run_id}}/checkpoints/{{checkpoint_id:path}}",
        "delete_checkpoint",
        mutating=True,
    ),
    _Route("GET", f"{_P}/checkpoints", "list_user_checkpoints"),
    _Route("POST", f"{_P}/weights_info", "get_weights_info", m.WeightsInfoRequest),
    _Route(
        "GET",
        f"{_P}/training_runs/{{run_id}}/checkpoints/{{checkpoint_id:path}}/archive",
        "get_checkpoint_archive_url",
    ),
    _Route(
        "GET",
        f"{_P}/training_runs/{{run_id}}/checkpoints/{{checkpoint_id:path}}/download",
        "download_checkpoint_archive",
    ),
    _Route(
        "GET",
        f"{_P}/training_runs/{{run_id}}/checkpoints/{{checkpoint_id:path}}/external_weights_urls",
        "get_external_weights_urls",
    ),
    _Route("GET", "/storage/{token}", "storage"),
]

_BARE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")  # skyrl-tx's ID_PATTERN


@dataclass
class _Call:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    route: _Route | None
    params: dict[str, str]
    endpoint: str


@dataclass
class _Armed:
    endpoint: str
    fault: Fault
    remaining: int


class _Dropped(Exception):
    """Raised inside the handler to close the connection without a reply."""


def _error(status: int, detail: Any) -> Reply:
    return Reply(status, {"detail": detail})


def _dump(model: type[BaseModel], **fields: Any) -> dict[str, Any]:
    """Validate ``fields`` against ``model`` and dump them the way a server would."""
    return model.model_validate(fields).model_dump(mode="json", exclude_none=True)


def _corrupt(body: Any, model: type[BaseModel] | None) -> Any:
    """JSON that ``model`` rejects: required fields dropped, else every value mistyped."""
    if not isinstance(body, dict) or not body or model is None:
        return ["bad_schema"]
    required = {name for name, f in model.model_fields.items() if f.is_required()}
    if required & body.keys():
        return {k: v for k, v in body.items() if k not in required}
    return {k: [None, "bad_schema", {}] for k in body}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 256  # bursts of many futures polled at once must not be reset

    def __init__(self, fake: FakeTinker) -> None:
        self.fake = fake
        self.live: set[socket.socket] = set()
        self.threads: list[threading.Thread] = []
        self.track_lock = threading.Lock()
        super().__init__((_HOST, 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if self.fake._stopping.is_set():
            self.shutdown_request(request)
            return
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name="fake-tinker-conn",
            daemon=True,
        )
        with self.track_lock:
            self.live.add(request)
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self.track_lock:
            self.live.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = traceback.format_exc()
        if not any(
            name in exc
            for name in ("BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError")
        ):
            self.fake.errors.append(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTinker/0.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    timeout = 60  # idle keep-alive connections end after this; stop() ends them at once
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        try:
            self.server.fake._serve(self, body)
        except _Dropped:
            self.drop()

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def send(self, reply: Reply, *, truncate: bool = False) -> None:
        if isinstance(reply.body, Path):
            self._send_file(reply, reply.body, truncate=truncate)
            return
        if isinstance(reply.body, bytes):
            data, ctype = reply.body, "application/octet-stream"
        elif isinstance(reply.body, str):
            data, ctype = reply.body.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(reply.body).encode(), "application/json"
        extra = {k.lower(): v for k, v in reply.headers.items()}
        self.send_response(reply.status)
        self.send_header("Content-Type", extra.pop("content-type", ctype))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", extra.pop("x-request-id", f"fake-http-{next(_HTTP_IDS)}"))
        for key, value in extra.items():
            if key != "content-length":
                self.send_header(key, value)
        self.end_headers()
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.drop()
        else:
            self.wfile.write(data)
            self.wfile.flush()

    def _send_file(self, reply: Reply, path: Path, *, truncate: bool) -> None:
        """Stream a file from disk in ``download_chunk`` pieces (constant memory)."""
        fake = self.server.fake
        size = path.stat().st_size
        self.send_response(reply.status)
        extra = {k.lower(): v for k, v in reply.headers.items()}
        self.send_header("Content-Type", extra.pop("content-type", "application/octet-stream"))
        self.send_header("Content-Length", str(size))
        self.send_header("x-request-id", extra.pop("x-request-id", f"fake-http-{next(_HTTP_IDS)}"))
        for key, value in extra.items():
            if key != "content-length":
                self.send_header(key, value)
        self.end_headers()
        limit = size // 2 if truncate else size
        stall_at, stall_for = fake.stall_body if fake.stall_body else (-1, 0.0)
        sent = 0
        with path.open("rb") as source:
            while sent < limit:
                if 0 <= stall_at <= sent:
                    stall_at = -1
                    if not fake._sleep(stall_for):
                        raise _Dropped
                step = limit - sent if stall_at < 0 else min(limit, stall_at) - sent
                chunk = source.read(min(fake.download_chunk, max(step, 1)))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
        self.wfile.flush()
        if truncate:
            self.drop()


class FakeTinker:
    """The fake server. See the module docstring for the fault API, dedupe modes and counters."""

    def __init__(
        self,
        *,
        dedupe: bool = True,
        client_config: bool = False,
        try_agains: int = 0,
        latency: float = 0.0,
        protobuf: bool = True,
    ) -> None:
        self.dedupe = dedupe
        self.client_config = client_config
        self.protobuf = protobuf
        self.try_agains = try_agains
        self.latency = latency
        # knobs tests may change at any time
        self.config_flags: dict[str, Any] = {}
        self.dynamic_config: dict[str, Any] | None = None  # None: dynamic_config is 404
        self.cancelled_futures: list[str] = []  # request ids named by cancel_future, in order
        self.try_agains_by_endpoint: dict[str, int] = {}
        self.base_models: list[str] = ["fake/tiny-model"]
        self.expire_sessions = False  # heartbeats of unknown sessions: 410 instead of 404
        self.metadata_only = False
        self.loss_metrics = True  # False: forward/backward metrics are {}, as skyrl-tx answers
        self.queue_state = "active"
        self.listing_lag = 0  # listings leave out the newest N sessions / runs / samplers
        # checkpoint downloads (see the module docstring)
        self.archive_mode: str | None = None  # None | "redirect" | "json" | "direct"
        self.archive_ids = "full"  # "full" (weights/name) | "bare" (skyrl-tx: name only)
        self.archives: dict[str, bytes | Path] = {}
        self.external_weights_urls = True
        self.external_files: dict[str, dict[str, bytes | Path | str]] = {}
        self.signed_url_ttl = 3600.0
        self.download_chunk = 1 << 20
        self.stall_body: tuple[int, float] | None = None
        self.blobs: dict[str, bytes | Path] = {}
        # counters and logs
        self.applied: Counter[tuple[str, str | None]] = Counter()
        self.optim_steps: Counter[str] = Counter()
        self.heartbeats: Counter[str] = Counter()
        self.seq_log: defaultdict[str, list[int | None]] = defaultdict(list)
        self.seq_arrivals: defaultdict[str, list[tuple[int | None, str, bool]]] = defaultdict(list)
        self.requests: list[RecordedRequest] = []
        self.replies: list[tuple[str, int]] = []
        self.deduped: list[tuple[str, Any]] = []
        self.faults_fired: list[tuple[str, str]] = []
        self.telemetry: list[dict[str, Any]] = []
        self.stream_error_after: int | None = None
        self.telemetry_batches: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.protobuf_requests = 0  # protobuf bodies received and decoded
        # state
        self.sessions: dict[str, SessionRecord] = {}
        self.models: dict[str, ModelRecord] = {}
        self.futures: dict[str, FutureRecord] = {}
        self.checkpoints: dict[tuple[str, str], CheckpointRecord] = {}
        self.samplers: dict[str, SamplerRecord] = {}
        self._idempotent: dict[tuple[str, str, str], Reply] = {}
        self._seq_seen: dict[tuple[str, Any], tuple[str, Reply]] = {}
        self._faults: list[_Armed] = []
        self._counter = 0
        self._lock = threading.RLock()
        # session-wide futures (retrieve_futures; see the module docstring)
        self.futures_long_poll = 30.0
        self.futures_hold = False
        self.retrieved_acks: list[str] = []
        self.future_logs: defaultdict[tuple[str, int], list[tuple[int, dict[str, Any]]]] = (
            defaultdict(list)
        )
        self._future_log_index = 0
        self._held_completions: list[tuple[tuple[str, int], dict[str, Any]]] = []
        self._futures_changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeTinker:
        if self._httpd is not None:
            raise RuntimeError("FakeTinker already started")
        if self._stopping.is_set():
            raise RuntimeError("a stopped FakeTinker cannot be restarted; make a new one")
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-tinker",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, interrupt sleeping handlers, close connections; bounded (~3 s)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with httpd.track_lock:
            live, threads = list(httpd.live), list(httpd.threads)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + _STOP_JOIN_TIMEOUT
        for thread in [self._thread, *threads]:
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> FakeTinker:
        if self._httpd is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("FakeTinker is not running")
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def base_url(self) -> str:
        return f"http://{_HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # ------------------------------------------------------------------ test controls

    def inject(self, endpoint: str, fault: Fault, times: int = 1) -> None:
        """Arm ``fault`` for the next ``times`` requests matching ``endpoint``."""
        if times < 1:
            raise ValueError("times must be >= 1")
        if not isinstance(fault, Fault):
            raise TypeError(f"not a Fault: {fault!r}")
        with self._lock:
            self._faults.append(_Armed(endpoint, fault, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return [(a.endpoint, a.fault.kind, a.remaining) for a in self._faults]

    def expire_future(self, request_id: str) -> None:
        """Later polls of this future reply 410."""
        with self._lock:
            self.futures[request_id].expired = True

    def expire_futures(self, endpoint: str | None = None) -> list[str]:
        """Expire every existing future (of ``endpoint``, if given); returns their ids."""
        with self._lock:
            hit = [f for f in self.futures.values() if endpoint in (None, f.endpoint)]
            for fut in hit:
                fut.expired = True
            return [f.request_id for f in hit]

    def expire_session(self, session_id: str) -> None:
        """Heartbeats of this session reply 410 from now on."""
        with self._lock:
            self.sessions[session_id].expired = True

    def requests_to(self, endpoint: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if endpoint in (r.endpoint, r.path)]

    # ------------------------------------------------------------------ dispatch

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter:06d}"

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str], bool]:
        path_known = False
        for route in _ROUTES:
            found = route.pattern.match(path)
            if found:
                path_known = True
                if route.method == method:
                    params = {k: unquote(v) for k, v in found.groupdict().items()}
                    return route, params, True
        return None, {}, path_known

    def _take_fault(self, call: _Call) -> Fault | None:
        last = call.path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            for armed in self._faults:
                if armed.endpoint in ("*", call.endpoint, last, call.path):
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self._faults.remove(armed)
                    self.faults_fired.append((call.endpoint, armed.fault.kind))
                    return armed.fault
        return None

    def _sleep(self, seconds: float) -> bool:
        """Sleep (capped, interruptible); False when the server is stopping."""
        if seconds > 0:
            self._stopping.wait(min(seconds, MAX_SLEEP))
        return not self._stopping.is_set()

    def _serve(self, h: _Handler, raw: bytes) -> None:
        path, _, query_string = h.path.partition("?")
        headers = {k.lower(): v for k, v in h.headers.items()}
        route, params, path_known = self._match(h.command, path)
        body = self._decode(raw, headers)
        call_headers, endpoint = headers, route.name if route else None
        if self.protobuf and PROTOBUF in headers.get("content-type", "") and route is not None:
            # Recorded (and faulted) under the route it arrived on, handled as what it stands for.
            body, route, call_headers = self._protobuf_body(raw, headers, route)
        call = _Call(
            method=h.command,
            path=path,
            query=dict(parse_qsl(query_string)),
            headers=call_headers,
            json=body,
            route=route,
            params=params,
            endpoint=endpoint or path.rstrip("/").rsplit("/", 1)[-1],
        )
        with self._lock:
            self.requests.append(
                RecordedRequest(
                    h.command,
                    path,
                    headers,
                    None if body is _INVALID else body,
                    call.query,
                    call.endpoint,
                )
            )
        if not self._sleep(self.latency):
            raise _Dropped
        fault = self._take_fault(call)
        kind = fault.kind if fault else None

        if fault is not None and kind == "status":
            h.send(self._status_reply(fault))
            return
        if kind == "drop_before":
            raise _Dropped
        if fault is not None and kind == "delay" and not fault.apply:
            self._sleep(fault.seconds)
            raise _Dropped

        if fault is not None and kind == "fail":
            reply = self._fail(call, fault)
        elif route is None:
            reply = _error(405, "Method Not Allowed") if path_known else _error(404, "Not Found")
        else:
            reply = self._process(call)

        if kind == "drop_after":
            raise _Dropped
        if fault is not None and kind == "delay" and not self._sleep(fault.seconds):
            raise _Dropped
        if kind == "malformed_json":
            reply = Reply(200, b"{this is not json", {"content-type": "application/json"})
        elif kind == "bad_schema":
            reply = Reply(200, _corrupt(reply.body, reply.model))
        with self._lock:
            self.replies.append((call.endpoint, len(self.requests)))
        h.send(reply, truncate=kind == "truncate_after")

    @staticmethod
    def _decompressed(raw: bytes, headers: dict[str, str]) -> bytes:
        for enc in reversed([e.strip() for e in headers.get("content-encoding", "").split(",")]):
            if enc == "gzip":
                raw = gzip.decompress(raw)
            elif enc == "deflate":
                raw = zlib.decompress(raw)
            elif enc == "zstd":
                import zstandard

                raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        return raw

    @classmethod
    def _decode(cls, raw: bytes, headers: dict[str, str]) -> Any:
        if not raw:
            return None
        try:
            return json.loads(cls._decompressed(raw, headers))
        except Exception:
            return _INVALID

    def _protobuf_body(
        self, raw: bytes, headers: dict[str, str], route: _Route
    ) -> tuple[Any, _Route, dict[str, str]]:
        """A protobuf forward_backward as the JSON call it stands for (``forward_only``: the
        ``forward`` route), with headers that say JSON; anything else stays refused."""
        if route.name != "forward_backward":
            return _INVALID, route, headers
        try:
            body, forward_only = forward_backward_json(self._decompressed(raw, headers))
        except Exception:
            return _INVALID, route, {**headers, "content-type": "application/json"}
        if forward_only:
            route = next(r for r in _ROUTES if r.name == "forward")
        with self._lock:
            self.protobuf_requests += 1
        return body, route, {**headers, "content-type": "application/json"}

    @staticmethod
    def _status_reply(fault: Fault) -> Reply:
        body = fault.body
        if body is None:
            body = {"detail": f"injected fault: HTTP {fault.status_code}"}
        return Reply(fault.status_code, body, dict(fault.headers))

    def _fail(self, call: _Call, fault: Fault) -> Reply:
        error = {"error": fault.message, "category": fault.category}
        route = call.route
        if route is not None and route.name == "retrieve_future":
            return Reply(200, error, model=m.RequestFailedResponse)
        if route is None or not route.future:
            return _error(500, fault.message)
        try:
            req = self._validate(route, call.json)
        except _BadBody as bad:
            return bad.reply
        with self._lock:
            model_id = getattr(req, "model_id", None)
            reply = self._future(route.name, model_id, error=error)
            if route.name == "asample":
                self._complete_sample(req, reply.body["request_id"], "failed")
            return reply

    def _validate(self, route: _Route, body: Any) -> Any:
        if route.request_model is None:
            return None
        if body is _INVALID:
            raise _BadBody(_error(422, "request body is not valid JSON"))
        try:
            return route.request_model.model_validate(body if body is not None else {})
        except ValidationError as exc:
            raise _BadBody(_error(422, json.loads(exc.json(include_url=False)))) from None

    def _process(self, call: _Call) -> Reply:
        route = call.route
        assert route is not None
        if "protobuf" in call.headers.get("content-type", ""):
            return _error(415, "the fake Tinker server speaks JSON only (no protobuf)")
        try:
            req = self._validate(route, call.json)
        except _BadBody as bad:
            return bad.reply
        handler: Callable[..., Reply] = getattr(self, f"_h_{route.name}")
        with self._lock:
            try:
                idem = call.headers.get("x-idempotency-key")
                idem_key = (call.method, call.path, idem) if idem else None
                seq_key = self._seq_key(route.name, req, call.params)
                if self.dedupe and route.mutating:
                    replay = self._replay(route.name, idem_key, seq_key)
                    if replay is not None:
                        return replay
                reply = handler(call, req, **call.params)
                if self.dedupe and route.mutating and 200 <= reply.status < 300:
                    if idem_key is not None:
                        self._idempotent[idem_key] = reply
                    if seq_key is not None:
                        self._seq_seen[seq_key] = (route.name, reply)
                return reply
            except _Reject as rej:
                return _error(rej.status, rej.detail)
            except Exception:
                self.errors.append(traceback.format_exc())
                return _error(500, f"fake server bug: {traceback.format_exc(limit=1)}")

    def _replay(
        self, endpoint: str, idem_key: tuple[str, str, str] | None, seq_key: tuple[str, Any] | None
    ) -> Reply | None:
        if idem_key is not None and idem_key in self._idempotent:
            self.deduped.append((endpoint, idem_key[2]))
            self._arrival(seq_key, endpoint, applied=False)
            return self._idempotent[idem_key]
        if seq_key is not None and seq_key in self._seq_seen:
            original_endpoint, reply = self._seq_seen[seq_key]
            if original_endpoint != endpoint:
                return _error(
                    400,
                    f"seq_id {seq_key[1]} of {seq_key[0]} was already used by {original_endpoint}",
                )
            self.deduped.append((endpoint, seq_key))
            self._arrival(seq_key, endpoint, applied=False)
            return reply
        return None

    @staticmethod
    def _seq_key(endpoint: str, req: Any, params: dict[str, str]) -> tuple[str, Any] | None:
        if endpoint == "create_model":
            return (f"{req.session_id}:train:{req.model_seq_id}", 0)
        if endpoint == "load_weights" and req.session_id is not None:
            if req.model_seq_id is None:
                return None
            return (f"{req.session_id}:train:{req.model_seq_id}", 0)
        if endpoint == "create_sampling_session":
            return (f"{req.session_id}:sampling_session", req.sampling_session_seq_id)
        if endpoint == "asample":
            if req.sampling_session_id is None or req.seq_id is None:
                return None
            return (req.sampling_session_id, req.seq_id)
        seq_id = getattr(req, "seq_id", None)
        model_id = getattr(req, "model_id", None)
        if seq_id is None or model_id is None:
            return None
        return (model_id, seq_id)

    def _arrival(self, seq_key: tuple[str, Any] | None, endpoint: str, *, applied: bool) -> None:
        if seq_key is not None and endpoint not in _UNSEQUENCED:
            self.seq_arrivals[seq_key[0]].append((seq_key[1], endpoint, applied))

    def _applied(self, endpoint: str, target: str | None, seq_id: int | None = None) -> None:
        """Count an applied request; log its seq id when it targets a model / sampler."""
        self.applied[(endpoint, target)] += 1
        if target is not None and endpoint not in _UNSEQUENCED:
            self.seq_log[target].append(seq_id)
            self.seq_arrivals[target].append((seq_id, endpoint, True))

    def _future(
        self,
        endpoint: str,
        model_id: str | None,
        *,
        result: dict[str, Any] | None = None,
        result_model: type[BaseModel] | None = None,
        error: dict[str, str] | None = None,
        sample_ids: list[str] | None = None,
        request_id: str | None = None,
    ) -> Reply:
        rid = request_id or self._next_id("req")
        self.futures[rid] = FutureRecord(
            request_id=rid,
            endpoint=endpoint,
            model_id=model_id,
            result=result,
            result_model=result_model,
            error=error,
            try_agains=self.try_agains_by_endpoint.get(endpoint, self.try_agains),
        )
        body = _dump(
            m.UntypedAPIFuture, request_id=rid, model_id=model_id, sample_sequence_ids=sample_ids
        )
        return Reply(200, body, model=m.UntypedAPIFuture)

    def _failed(self, endpoint: str, model_id: str | None, message: str) -> Reply:
        return self._future(endpoint, model_id, error={"error": message, "category": "user"})

    # ------------------------------------------------------------------ lookups

    def _session(self, session_id: str, *, active: bool = False) -> SessionRecord:
        sess = self.sessions.get(session_id)
        if sess is None:
            raise _NotFound(f"unknown session {session_id!r}")
        if active and sess.finished:
            raise _Reject(400, f"session {session_id!r} is finished")
        return sess

    def _model(self, model_id: str) -> ModelRecord:
        model = self.models.get(model_id)
        if model is None:
            raise _NotFound(f"unknown model {model_id!r}")
        if model.unloaded:
            raise _Reject(400, f"model {model_id!r} is unloaded")
        if self.sessions[model.session_id].finish_reason is not None:
            raise _Reject(400, f"session {model.session_id!r} is finished")
        model.last_request_time = now()
        return model

    def _checkpoint(self, tinker_path: str) -> CheckpointRecord | None:
        parsed = parse_tinker_path(tinker_path)
        if parsed is None:
            return None
        return self.checkpoints.get((parsed[0], parsed[1]))

    def _save(self, model: ModelRecord, kind: str, ctype: str, name: str, **extra: Any) -> str:
        ckpt = CheckpointRecord(model.model_id, f"{kind}/{name}", ctype, model.weights, **extra)
        self.checkpoints[(model.model_id, ckpt.checkpoint_id)] = ckpt
        return ckpt.tinker_path

    @staticmethod
    def _auto_name(model: ModelRecord, seq_id: int | None) -> str:
        model.auto_names += 1
        return f"{seq_id if seq_id is not None else model.auto_names:06d}"

    def _page(self, call: _Call, default_limit: int) -> tuple[int, int]:
        try:
            limit = int(call.query.get("limit", default_limit))
            offset = int(call.query.get("offset", 0))
        except ValueError:
            raise _Reject(422, "limit and offset must be integers") from None
        if limit < 1 or offset < 0:
            raise _Reject(422, "limit must be >= 1 and offset >= 0")
        return limit, offset

    # ------------------------------------------------------------------ service

    def _h_get_client_config(self, call: _Call, req: m.ClientConfigRequest) -> Reply:
        if not self.client_config:
            return _error(404, "Not Found")
        return Reply(
            200, _dump(m.ClientConfigResponse, **self.config_flags), model=m.ClientConfigResponse
        )

    def _h_get_dynamic_config(self, call: _Call, req: m.ClientConfigRequest) -> Reply:
        if self.dynamic_config is None:
            return _error(404, "Not Found")
        body = _dump(m.ClientDynamicConfigResponse, **self.dynamic_config)
        return Reply(200, body, model=m.ClientDynamicConfigResponse)

    def _h_health_check(self, call: _Call, req: None) -> Reply:
        return Reply(200, {"status": "ok"}, model=m.HealthResponse)

    def _h_get_server_capabilities(self, call: _Call, req: None) -> Reply:
        models = [
            {"model_name": name, "max_context_length": 4096, "trainable": True, "sampleable": True}
            for name in self.base_models
        ]
        body = _dump(m.GetServerCapabilitiesResponse, supported_models=models)
        return Reply(200, body, model=m.GetServerCapabilitiesResponse)

    def _h_telemetry(self, call: _Call, req: m.TelemetrySendRequest) -> Reply:
        batch = call.json
        self.telemetry_batches.append(batch)
        self.telemetry.extend(batch["events"])
        self._applied("telemetry", req.session_id)
        return Reply(200, {"status": "accepted"}, model=m.TelemetryResponse)

    # ------------------------------------------------------------------ sessions

    def _h_create_session(self, call: _Call, req: m.CreateSessionRequest) -> Reply:
        sid = self._next_id("session")
        self.sessions[sid] = SessionRecord(
            sid, req.tags, req.user_metadata, req.sdk_version, req.display_name, req.project_id
        )
        self._applied("create_session", sid)
        body = _dump(m.CreateSessionResponse, session_id=sid)
        return Reply(200, body, model=m.CreateSessionResponse)

    def _h_session_heartbeat(self, call: _Call, req: m.SessionHeartbeatRequest) -> Reply:
        sess = self.sessions.get(req.session_id)
        if sess is None:
            if self.expire_sessions:
                return _error(410, f"session {req.session_id!r} has expired")
            return _error(404, f"unknown session {req.session_id!r}")
        if sess.finished:
            return _error(410, f"session {req.session_id!r} is finished")
        sess.heartbeats += 1
        self.heartbeats[req.session_id] += 1
        return Reply(200, {"type": "session_heartbeat"}, model=m.SessionHeartbeatResponse)

    def _h_finish_session(self, call: _Call, req: m.FinishSessionRequest, session_id: str) -> Reply:
        sess = self._session(session_id)
        if sess.finish_reason is None:  # the first finish wins
            sess.finish_reason = req.reason.type
            sess.finish_detail = req.detail
        self._applied("finish_session", session_id)
        return Reply(200, {})

    def _h_list_sessions(self, call: _Call, req: None) -> Reply:
        limit, offset = self._page(call, 20)
        ids = sorted(self.sessions, key=lambda s: self.sessions[s].created, reverse=True)
        ids = ids[self.listing_lag :]  # the newest are not listed yet
        return Reply(200, {"sessions": ids[offset : offset + limit]}, model=m.ListSessionsResponse)

    def _h_get_session(self, call: _Call, req: None, session_id: str) -> Reply:
        sess = self._session(session_id)
        body = _dump(
            m.GetSessionResponse,
            training_run_ids=sess.model_ids[: len(sess.model_ids) - self.listing_lag],
            sampler_ids=sess.sampler_ids[: len(sess.sampler_ids) - self.listing_lag],
            user_metadata=sess.user_metadata,
            display_name=sess.display_name,
        )
        return Reply(200, body, model=m.GetSessionResponse)

    # ------------------------------------------------------------------ training

    def _h_create_model(self, call: _Call, req: m.CreateModelRequest) -> Reply:
        sess = self._session(req.session_id, active=True)
        model_id = f"{req.session_id}:train:{req.model_seq_id}"
        if req.base_model not in self.base_models:
            return self._failed("create_model", None, f"unknown base model {req.base_model!r}")
        if model_id in self.models:
            return self._failed("create_model", model_id, f"model {model_id!r} already exists")
        self.models[model_id] = ModelRecord(
            model_id=model_id,
            session_id=sess.session_id,
            base_model=req.base_model,
            lora_config=req.lora_config.model_dump() if req.lora_config else None,
            optimizer_config=req.optimizer_config.model_dump(),
            user_metadata=req.user_metadata,
        )
        sess.model_ids.append(model_id)
        self._applied("create_model", model_id, 0)
        result = _dump(m.CreateModelResponse, model_id=model_id)
        return self._future(
            "create_model", model_id, result=result, result_model=m.CreateModelResponse
        )

    def _h_get_info(self, call: _Call, req: m.GetInfoRequest) -> Reply:
        model = self._model(req.model_id)
        body = _dump(
            m.GetInfoResponse,
            type="get_info",
            model_id=model.model_id,
            model_data={
                "arch": "fake",
                "model_name": model.base_model,
                "tokenizer_id": model.base_model,
            },
            optimizer_config=model.optimizer_config,
            is_lora=model.lora_config is not None,
            lora_rank=model.lora_rank,
            model_name=model.base_model,
        )
        return Reply(200, body, model=m.GetInfoResponse)

    def _forward(self, endpoint: str, req: m.ForwardBackwardRequest | m.ForwardRequest) -> Reply:
        model = self._model(req.model_id)
        fb_input = (
            req.forward_backward_input
            if isinstance(req, m.ForwardBackwardRequest)
            else req.forward_input
        )
        result = forward_outputs(fb_input.data, model.weights)
        if not self.loss_metrics:
            result["metrics"] = {}
        self._applied(endpoint, model.model_id, req.seq_id)
        return self._future(
            endpoint, model.model_id, result=result, result_model=m.ForwardBackwardOutput
        )

    def _h_forward_backward(self, call: _Call, req: m.ForwardBackwardRequest) -> Reply:
        return self._forward("forward_backward", req)

    def _h_forward(self, call: _Call, req: m.ForwardRequest) -> Reply:
        return self._forward("forward", req)

    def _h_optim_step(self, call: _Call, req: m.OptimStepRequest) -> Reply:
        if req.adam_params is not None and req.optimizer_params is not None:
            return _error(422, "give adam_params or optimizer_params, not both")
        model = self._model(req.model_id)
        model.weights += 1
        self.optim_steps[model.model_id] += 1
        self._applied("optim_step", model.model_id, req.seq_id)
        params = req.adam_params or req.optimizer_params
        lr = params.learning_rate if params is not None else m.AdamParams().learning_rate
        result = _dump(m.OptimStepResponse, metrics={"step": model.weights, "learning_rate": lr})
        return self._future(
            "optim_step", model.model_id, result=result, result_model=m.OptimStepResponse
        )

    def _h_save_weights(self, call: _Call, req: m.SaveWeightsRequest) -> Reply:
        model = self._model(req.model_id)
        name = req.path or self._auto_name(model, req.seq_id)
        if (model.model_id, f"weights/{name}") in self.checkpoints and not req.overwrite:
            return self._failed(
                "save_weights", model.model_id, f"checkpoint weights/{name} already exists"
            )
        path = self._save(
            model,
            "weights",
            "training",
            name,
            user_metadata=req.user_metadata,
            ttl_seconds=req.ttl_seconds,
        )
        self._applied("save_weights", model.model_id, req.seq_id)
        result = _dump(m.SaveWeightsResponse, path=path, type="save_weights")
        return self._future(
            "save_weights", model.model_id, result=result, result_model=m.SaveWeightsResponse
        )

    def _h_save_weights_for_sampler(
        self, call: _Call, req: m.SaveWeightsForSamplerRequest
    ) -> Reply:
        if req.path is None and req.sampling_session_seq_id is None:
            return _error(422, "give path (named save) or sampling_session_seq_id (ephemeral)")
        model = self._model(req.model_id)
        fields: dict[str, Any] = {}
        if req.path is not None:
            fields["path"] = self._save(
                model,
                "sampler_weights",
                "sampler",
                req.path,
                user_metadata=req.user_metadata,
                ttl_seconds=req.ttl_seconds,
            )
        if req.sampling_session_seq_id is not None:
            sampler_id = f"{model.session_id}:sample:{req.sampling_session_seq_id}"
            self.samplers[sampler_id] = SamplerRecord(
                sampler_id,
                model.session_id,
                model.base_model,
                model_path=fields.get("path"),
                model_id=model.model_id,
                weights=model.weights,
                live=req.kind == "inflight",
            )
            self.sessions[model.session_id].sampler_ids.append(sampler_id)
            fields["sampling_session_id"] = sampler_id
        self._applied("save_weights_for_sampler", model.model_id, req.seq_id)
        result = _dump(m.SaveWeightsForSamplerResponseInternal, **fields)
        return self._future(
            "save_weights_for_sampler",
            model.model_id,
            result=result,
            result_model=m.SaveWeightsForSamplerResponseInternal,
        )

    def _h_save_weights_external(self, call: _Call, req: m.SaveWeightsExternalRequest) -> Reply:
        model = self._model(req.model_id)
        path = self._save(
            model, "external_weights", "external", req.path, ttl_seconds=req.ttl_seconds
        )
        self._applied("save_weights_external", model.model_id, req.seq_id)
        result = _dump(m.SaveWeightsExternalResponseInternal, path=path, size_bytes=1024)
        return self._future(
            "save_weights_external",
            model.model_id,
            result=result,
            result_model=m.SaveWeightsExternalResponseInternal,
        )

    def _h_load_weights(self, call: _Call, req: m.LoadWeightsRequest) -> Reply:
        if req.model_id is not None:  # legacy: load into an existing model
            model = self._model(req.model_id)
            ckpt = self._checkpoint(req.path)
            if ckpt is None:
                return self._failed("load_weights", model.model_id, f"no checkpoint {req.path!r}")
            model.weights = ckpt.weights
            self._applied("load_weights", model.model_id, req.seq_id)
            result = _dump(
                m.LoadWeightsResponse, path=req.path, model_id=model.model_id, type="load_weights"
            )
            return self._future(
                "load_weights", model.model_id, result=result, result_model=m.LoadWeightsResponse
            )
        if req.session_id is None or req.model_seq_id is None:
            return _error(422, "give model_id (+ seq_id), or session_id + model_seq_id")
        sess = self._session(req.session_id, active=True)
        model_id = f"{req.session_id}:train:{req.model_seq_id}"
        ckpt = self._checkpoint(req.path)
        if ckpt is None:
            return self._failed("load_weights", model_id, f"no checkpoint {req.path!r}")
        if model_id in self.models:
            return self._failed("load_weights", model_id, f"model {model_id!r} already exists")
        source = self.models.get(ckpt.run_id)
        base_model = req.base_model or (source.base_model if source else self.base_models[0])
        self.models[model_id] = ModelRecord(
            model_id=model_id,
            session_id=sess.session_id,
            base_model=base_model,
            lora_config=source.lora_config if source else None,
            optimizer_config=(
                req.optimizer_config.model_dump()
                if req.optimizer_config is not None
                else (source.optimizer_config if source else {"type": "adamw"})
            ),
            user_metadata=req.user_metadata,
            weights=ckpt.weights,
        )
        sess.model_ids.append(model_id)
        self._applied("load_weights", model_id, 0)
        result = _dump(m.LoadWeightsResponse, path=req.path, model_id=model_id, type="load_weights")
        return self._future(
            "load_weights", model_id, result=result, result_model=m.LoadWeightsResponse
        )

    def _h_unload_model(self, call: _Call, req: m.UnloadModelRequest) -> Reply:
        model = self._model(req.model_id)
        model.unloaded = True
        self._applied("unload_model", model.model_id)
        result = _dump(m.UnloadModelResponse, model_id=model.model_id)
        return self._future(
            "unload_model", model.model_id, result=result, result_model=m.UnloadModelResponse
        )

    # ------------------------------------------------------------------ sampling

    def _h_create_sampling_session(self, call: _Call, req: m.CreateSamplingSessionRequest) -> Reply:
        sess = self._session(req.session_id, active=True)
        sampler_id = f"{req.session_id}:sample:{req.sampling_session_seq_id}"
        if req.model_path is not None:
            ckpt = self._checkpoint(req.model_path)
            if ckpt is None:
                return _error(404, f"unknown model_path {req.model_path!r}")
            source = self.models.get(ckpt.run_id)
            base_model = req.base_model or (source.base_model if source else self.base_models[0])
            record = SamplerRecord(
                sampler_id, sess.session_id, base_model, req.model_path, ckpt.run_id, ckpt.weights
            )
        elif req.base_model is not None:
            if req.base_model not in self.base_models:
                return _error(400, f"unknown base model {req.base_model!r}")
            record = SamplerRecord(sampler_id, sess.session_id, req.base_model)
        else:
            return _error(422, "give model_path or base_model")
        self.samplers[sampler_id] = record
        sess.sampler_ids.append(sampler_id)
        self._applied("create_sampling_session", req.session_id)
        body = _dump(m.CreateSamplingSessionResponse, sampling_session_id=sampler_id)
        return Reply(200, body, model=m.CreateSamplingSessionResponse)

    def _h_asample(self, call: _Call, req: m.SampleRequest) -> Reply:
        if req.sampling_session_id is not None:
            sampler = self.samplers.get(req.sampling_session_id)
            if sampler is None:
                return _error(404, f"unknown sampling session {req.sampling_session_id!r}")
            weights = sampler.weights
            if sampler.live and sampler.model_id in self.models:
                weights = self.models[sampler.model_id].weights
            target: str | None = sampler.sampler_id
        elif req.model_path is not None:
            ckpt = self._checkpoint(req.model_path)
            if ckpt is None:
                return _error(404, f"unknown model_path {req.model_path!r}")
            weights, target = ckpt.weights, None
        elif req.base_model is not None:
            if req.base_model not in self.base_models:
                return _error(400, f"unknown base model {req.base_model!r}")
            weights, target = 0, None
        else:
            return _error(422, "give sampling_session_id, model_path or base_model")
        if req.num_samples < 1:
            return _error(422, "num_samples must be >= 1")
        rid = self._next_id("req")
        sample_ids = [f"{rid}:{i}" for i in range(req.num_samples)]
        result = sample_outputs(req, weights, sample_ids)
        self._applied("asample", target, req.seq_id)
        self._complete_sample(req, rid, "finished")
        return self._future(
            "asample",
            None,
            result=result,
            result_model=m.SampleResponse,
            sample_ids=sample_ids,
            request_id=rid,
        )

    def _h_sample_stream(self, call: _Call, req: m.SampleRequest) -> Reply:
        """Server-sent events, a chunk of (up to) 2 tokens at a time per sequence; with
        ``stream_error_after`` set, an ``event: error`` frame replaces the rest after that many
        chunks. Only served when ``config_flags`` sets ``sample_streaming``."""
        if not self.config_flags.get("sample_streaming"):
            return _error(404, "Not Found")
        sampler = self.samplers.get(req.sampling_session_id or "")
        if sampler is None:
            return _error(404, f"unknown sampling session {req.sampling_session_id!r}")
        ids = [f"stream-{i}" for i in range(req.num_samples)]
        result = sample_outputs(req, sampler.weights, ids)
        frames: list[str] = []
        for index, seq in enumerate(result["sequences"]):
            tokens, logprobs = seq["tokens"], seq["logprobs"]
            for at in range(0, len(tokens), 2):
                last = at + 2 >= len(tokens)
                chunk = {
                    "type": "sample_chunk",
                    "sequence_index": index,
                    "tokens": tokens[at : at + 2],
                    "logprobs": logprobs[at : at + 2],
                    "stop_reason": seq["stop_reason"] if last else None,
                }
                frames.append(f"data: {json.dumps(chunk)}\n\n")
        if self.stream_error_after is not None:
            frames = frames[: self.stream_error_after]
            frames.append('event: error\ndata: {"message": "sampler crashed"}\n\n')
        self._applied("sample_stream", sampler.sampler_id, req.seq_id)
        return Reply(
            body=(": stream opened\n\n" + "".join(frames)).encode(),
            headers={"content-type": "text/event-stream"},
        )

    def _h_get_sampler(self, call: _Call, req: None, sampler_id: str) -> Reply:
        sampler = self.samplers.get(sampler_id)
        if sampler is None:
            return _error(404, f"unknown sampler {sampler_id!r}")
        body = _dump(
            m.GetSamplerResponse,
            sampler_id=sampler.sampler_id,
            base_model=sampler.base_model,
            model_path=sampler.model_path,
        )
        return Reply(200, body, model=m.GetSamplerResponse)

    # ------------------------------------------------------------------ futures

    def _h_retrieve_future(self, call: _Call, req: m.FutureRetrieveRequest) -> Reply:
        fut = self.futures.get(req.request_id)
        if fut is None:
            return _error(404, f"unknown request_id {req.request_id!r}")
        fut.polls += 1
        if fut.expired:
            return _error(410, f"future {req.request_id!r} has expired")
        if fut.try_agains > 0:
            fut.try_agains -= 1
            body = {
                "type": "try_again",
                "request_id": fut.request_id,
                "queue_state": self.queue_state,
            }
            return Reply(200, body, model=m.TryAgainResponse)
        if self.metadata_only and req.allow_metadata_only and not fut.metadata_sent:
            fut.metadata_sent = True
            size = len(json.dumps(fut.result or fut.error))
            meta = {"status": "complete_metadata", "response_payload_size": size}
            return Reply(200, meta, model=m.FutureMetadataResponse)
        if fut.error is not None:
            return Reply(200, fut.error, model=m.RequestFailedResponse)
        if self.protobuf and PROTOBUF in call.headers.get("accept", "") and fut.result_model:
            data = encode_result(fut.result_model.__name__, fut.result)
            if data is not None:
                return Reply(200, data, {"content-type": PROTOBUF}, model=fut.result_model)
        return Reply(200, fut.result, model=fut.result_model)

    def _complete_sample(self, req: m.SampleRequest, request_id: str, state: str) -> None:
        """Log a sample's completion for retrieve_futures (under the lock)."""
        if req.sampling_session_id is None:
            return
        key = (req.sampling_session_id, (req.seq_id or 0) // 1_000_000_000)
        completion: dict[str, Any] = {"state": state, "request_id": request_id}
        if state == "finished":
            completion["response_payload_uncompressed_size"] = 100
        if self.futures_hold:
            self._held_completions.append((key, completion))
        else:
            self._publish(key, completion)

    def _publish(self, key: tuple[str, int], completion: dict[str, Any]) -> None:
        self._future_log_index += 1
        self.future_logs[key].append((self._future_log_index, completion))
        self._futures_changed.notify_all()

    def release_futures(self) -> None:
        """Publish the completions held back by ``futures_hold`` (and stop holding)."""
        with self._lock:
            self.futures_hold = False
            held, self._held_completions = self._held_completions, []
            for key, completion in held:
                self._publish(key, completion)

    def _h_retrieve_futures(self, call: _Call, req: m.FuturesRetrieveRequest) -> Reply:
        target = req.target
        if target.sampling_session_id not in self.samplers:
            return _error(404, f"unknown sampling session {target.sampling_session_id!r}")
        self.retrieved_acks.extend(req.retrieved_request_ids)
        key = (target.sampling_session_id, target.cloned_sampler_id)
        log = self.future_logs[key]
        log[:] = [(i, c) for i, c in log if i > req.prev_cursor]  # trimmed: the client has them
        wait = self.futures_long_poll if req.timeout is None else req.timeout
        deadline = time.monotonic() + min(wait, self.futures_long_poll, MAX_SLEEP)
        while not log and not self._stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._futures_changed.wait(min(left, 0.05))  # releases the lock while it waits
        fresh = [(i, c) for i, c in log if i > req.prev_cursor]
        cursor = fresh[-1][0] if fresh else req.prev_cursor
        body = _dump(m.FuturesRetrieveResponse, completions=[c for _, c in fresh], cursor=cursor)
        return Reply(200, body, model=m.FuturesRetrieveResponse)

    def _h_cancel_future(self, call: _Call, req: m.CancelFutureRequest) -> Reply:
        fut = self.futures.get(req.request_id)
        if fut is None:
            return _error(404, f"unknown request_id {req.request_id!r}")
        self.cancelled_futures.append(req.request_id)
        return Reply(200, {}, model=None)

    # ------------------------------------------------------------------ runs and checkpoints

    def _run(self, run_id: str) -> ModelRecord:
        model = self.models.get(run_id)
        if model is None:
            raise _NotFound(f"unknown training run {run_id!r}")
        return model

    def _run_json(self, model: ModelRecord) -> dict[str, Any]:
        ckpts = [c for c in self.checkpoints.values() if c.run_id == model.model_id]
        training = [c for c in ckpts if c.checkpoint_type == "training"]
        sampler = [c for c in ckpts if c.checkpoint_type == "sampler"]
        return _dump(
            m.TrainingRun,
            training_run_id=model.model_id,
            base_model=model.base_model,
            model_owner="fake-owner",
            is_lora=model.lora_config is not None,
            lora_rank=model.lora_rank,
            last_request_time=model.last_request_time,
            last_checkpoint=training[-1].to_json() if training else None,
            last_sampler_checkpoint=sampler[-1].to_json() if sampler else None,
            user_metadata=model.user_metadata,
            corrupted=model.corrupted,
        )

    def _h_list_training_runs(self, call: _Call, req: None) -> Reply:
        limit, offset = self._page(call, 20)
        runs = sorted(self.models.values(), key=lambda r: r.created, reverse=True)
        body = {
            "training_runs": [self._run_json(r) for r in runs[offset : offset + limit]],
            "cursor": {"offset": offset, "limit": limit, "total_count": len(runs)},
        }
        return Reply(200, body, model=m.TrainingRunsResponse)

    def _h_get_training_run(self, call: _Call, req: None, run_id: str) -> Reply:
        return Reply(200, self._run_json(self._run(run_id)), model=m.TrainingRun)

    def _h_list_checkpoints(self, call: _Call, req: None, run_id: str) -> Reply:
        self._run(run_id)
        ckpts = [c.to_json() for c in self.checkpoints.values() if c.run_id == run_id]
        return Reply(200, {"checkpoints": ckpts}, model=m.CheckpointsListResponse)

    def _h_list_user_checkpoints(self, call: _Call, req: None) -> Reply:
        limit, offset = self._page(call, 100)
        ckpts = sorted(self.checkpoints.values(), key=lambda c: c.time, reverse=True)
        body = {
            "checkpoints": [c.to_json() for c in ckpts[offset : offset + limit]],
            "cursor": {"offset": offset, "limit": limit, "total_count": len(ckpts)},
        }
        return Reply(200, body, model=m.CheckpointsListResponse)

    def _h_delete_checkpoint(
        self, call: _Call, req: None, run_id: str, checkpoint_id: str
    ) -> Reply:
        self._run(run_id)
        if self.checkpoints.pop((run_id, checkpoint_id), None) is None:
            return _error(404, f"unknown checkpoint {checkpoint_id!r} of {run_id!r}")
        self._applied("delete_checkpoint", run_id)
        return Reply(200, {})

    def _h_get_weights_info(self, call: _Call, req: m.WeightsInfoRequest) -> Reply:
        ckpt = self._checkpoint(req.tinker_path)
        if ckpt is None:
            return _error(404, f"unknown checkpoint {req.tinker_path!r}")
        model = self.models.get(ckpt.run_id)
        lora = (model.lora_config if model else None) or {}
        body = _dump(
            m.WeightsInfoResponse,
            base_model=model.base_model if model else self.base_models[0],
            optimizer_config=model.optimizer_config if model else {"type": "adamw"},
            is_lora=bool(lora),
            lora_rank=lora.get("rank"),
            train_unembed=lora.get("train_unembed"),
            train_mlp=lora.get("train_mlp"),
            train_attn=lora.get("train_attn"),
        )
        return Reply(200, body, model=m.WeightsInfoResponse)

    # ------------------------------------------------------------------ checkpoint downloads

    def blob_url(self, data: bytes | Path) -> str:
        """Serve ``data`` at a fresh ``/storage/<token>`` URL (like a signed storage URL)."""
        with self._lock:
            token = self._next_id("blob")
            self.blobs[token] = data
        return f"{self.base_url}/storage/{token}"

    def _expires(self) -> str:
        return (now() + dt.timedelta(seconds=self.signed_url_ttl)).isoformat()

    @staticmethod
    def default_files(ckpt: CheckpointRecord) -> dict[str, bytes]:
        """The files of a checkpoint: a LoRA adapter's config and (fake) weights."""
        config = {"peft_type": "LORA", "checkpoint": ckpt.tinker_path, "weights": ckpt.weights}
        weights = (f"fake-weights:{ckpt.tinker_path}:{ckpt.weights}\n" * 64).encode()
        return {
            "adapter_config.json": json.dumps(config).encode(),
            "adapter_model.safetensors": weights,
        }

    @staticmethod
    def skyrl_archive(files: dict[str, bytes]) -> bytes:
        """A tar.gz the way skyrl-tx packs one: gzip level 0, a root entry named ``""``."""
        raw = io.BytesIO()
        with (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=0) as gz,
            tarfile.open(fileobj=gz, mode="w:") as tar,
        ):
            root = tarfile.TarInfo("")
            root.type, root.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(root)
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        return raw.getvalue()

    def _archive_path(self, run_id: str, checkpoint_id: str) -> str:
        if self.archive_ids == "bare":
            if "/" in checkpoint_id:
                raise _NotFound("Not Found")  # the route takes one path segment
            if not _BARE_ID.match(checkpoint_id):
                raise _Reject(422, f"checkpoint_id {checkpoint_id!r} must match {_BARE_ID.pattern}")
            return f"tinker://{run_id}/sampler_weights/{checkpoint_id}"
        return f"tinker://{run_id}/{checkpoint_id}"

    def _archive_of(self, run_id: str, checkpoint_id: str) -> bytes | Path:
        path = self._archive_path(run_id, checkpoint_id)
        if path in self.archives:
            return self.archives[path]
        ckpt = self._checkpoint(path)
        if ckpt is None or ckpt.checkpoint_type == "external":
            raise _NotFound(f"Checkpoint not found: {run_id}/{checkpoint_id}")
        return self.skyrl_archive(self.default_files(ckpt))

    def _h_get_checkpoint_archive_url(
        self, call: _Call, req: None, run_id: str, checkpoint_id: str
    ) -> Reply:
        if self.archive_mode is None:
            return _error(405, "Method Not Allowed")  # no such route (as before it existed)
        data = self._archive_of(run_id, checkpoint_id)
        if self.archive_mode == "redirect":
            location = self.base_url + call.path[: -len("/archive")] + "/download"
            expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 7200))
            return Reply(302, b"", {"location": location, "expires": expires})
        if self.archive_mode == "json":
            body = _dump(
                m.CheckpointArchiveUrlResponse, url=self.blob_url(data), expires=self._expires()
            )
            return Reply(200, body, model=m.CheckpointArchiveUrlResponse)
        return Reply(200, data)

    def _h_download_checkpoint_archive(
        self, call: _Call, req: None, run_id: str, checkpoint_id: str
    ) -> Reply:
        if self.archive_mode is None:
            return _error(405, "Method Not Allowed")
        data = self._archive_of(run_id, checkpoint_id)
        name = f"{run_id}_{checkpoint_id.replace('/', '_')}.tar.gz"
        return Reply(200, data, {"content-disposition": f'attachment; filename="{name}"'})

    def _h_get_external_weights_urls(
        self, call: _Call, req: None, run_id: str, checkpoint_id: str
    ) -> Reply:
        if not self.external_weights_urls:
            return _error(405, "Method Not Allowed")
        path = f"tinker://{run_id}/{checkpoint_id}"
        files = self.external_files.get(path)
        if files is None:
            ckpt = self._checkpoint(path)
            if ckpt is None or ckpt.checkpoint_type != "external":
                return _error(404, f"unknown external weights {checkpoint_id!r} of {run_id!r}")
            files = dict(self.default_files(ckpt))
        urls = {
            name: value if isinstance(value, str) else self.blob_url(value)
            for name, value in files.items()
        }
        body = _dump(m.ExternalWeightsUrlsResponse, urls=urls, expires=self._expires())
        return Reply(200, body, model=m.ExternalWeightsUrlsResponse)

    def _h_storage(self, call: _Call, req: None, token: str) -> Reply:
        data = self.blobs.get(token)
        if data is None:
            return _error(404, f"unknown blob {token!r}")
        return Reply(200, data)


# Applied but not sequenced per model (they carry no seq_id of their own).
_UNSEQUENCED = frozenset(
    {
        "telemetry",
        "create_session",
        "finish_session",
        "create_sampling_session",
        "unload_model",
        "delete_checkpoint",
    }
)


class _BadBody(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class _Reject(Exception):
    def __init__(self, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail


class _NotFound(_Reject):
    def __init__(self, detail: str) -> None:
        super().__init__(404, detail)
