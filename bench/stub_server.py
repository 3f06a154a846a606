"""A zero-compute Tinker stub for ``make bench`` that speaks the official SDK's protocol.

One asyncio process on 127.0.0.1 (HTTP/1.1 keep-alive, ``Content-Length`` or chunked request
bodies). It answers what the official ``tinker`` 0.38 SDK, tinkex and a bare-httpx client send:

* ``/api/v1/client/config`` with the feature flags of the hosted service's defaults
  (``use_pyqwest_transport: true``; ``proto_compress_fwdbwd`` and the chunk limits settable),
  ``/client/dynamic_config``, ``/create_session``, ``/session_heartbeat``, ``/telemetry``,
  ``/sessions/{id}/finish``, ``/create_model``, ``/get_info``, ``/create_sampling_session``,
  ``/get_server_capabilities``, ``/samplers/{id}``;
* ``/forward_backward`` with a protobuf body (``application/x-protobuf``, optionally
  ``Content-Encoding: zstd``) or a JSON one, ``/optim_step``, ``/asample``, and
  ``/retrieve_future``, which replies ``try_again`` a configurable number of times per future
  (default none: the result at once), then the result: protobuf when the poll's ``Accept`` is
  ``application/x-protobuf`` (``ForwardBackwardOutput``, ``SampleResponse``), JSON otherwise
  (``--try-again-every K``: only every K-th future is answered ``try_again`` first);
* ``/api/v1/auth/token`` (an unsigned JWT, for ``pjwt_auth_enabled: true``).

Results are canned (built once per shape, from ``tinkex._generated.tinker_public_pb2``), so the
stub's cost per request is the same whatever the client is, and no body is parsed on the hot
path. Only the first ``forward_backward`` after ``/_config`` of each encoding is decoded and
checked (datum and token counts): the outcome is in ``/_stats`` under ``checks``.

Every ``/api/`` request is counted per route (requests, bytes in as request line + headers +
body as received, bytes out). Control endpoints (for the bench only, not counted):

  GET  /_stats     {"routes": {path: {"requests", "bytes_in", "bytes_out"}}, "encodings": {...},
                    "connections", "checks": [...], "cpu_s": the stub's CPU time so far}
  POST /_reset     zero the counters
  POST /_config    any of {"fb_datums", "fb_tokens", "try_again", "try_again_every",
                   "client_config": {...}}
  POST /_shutdown  stop serving and exit

Run: ``python bench/stub_server.py [--try-again N [--try-again-every K]] [--max-seconds S]`` prints ``PORT <n>`` once
it listens; it stops on /_shutdown, SIGTERM, or after ``--max-seconds`` (default 1800).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from typing import Any

HOST = "127.0.0.1"
SESSION_ID = "bench-session"
MODEL_ID = f"{SESSION_ID}:train:0"
BASE_MODEL = "stub/model"
SAMPLE_TOKENS = 16
PROTO = "application/x-protobuf"


def load_pb2() -> Any:
    """The protobuf module: tinkex's generated one (``BENCH_PB2_DIR`` may name a directory
    holding a ``tinker_public_pb2.py`` compiled from manifest/tinker_public.proto instead)."""
    override = os.environ.get("BENCH_PB2_DIR")
    if override:
        sys.path.insert(0, override)
        import tinker_public_pb2  # type: ignore[import-not-found]

        return tinker_public_pb2
    from tinkex._generated import tinker_public_pb2 as pb2  # type: ignore[attr-defined]

    return pb2


pb = load_pb2()

DEFAULT_CLIENT_CONFIG: dict[str, Any] = {
    "pjwt_auth_enabled": False,
    "credential_default_source": "api_key",
    "parallel_fwdbwd_chunks": True,
    "proto_compress_fwdbwd": True,
    "fwdbwd_max_chunk_len": 1024,
    "fwdbwd_max_chunk_bytes_count": 5_000_000,
    "fwdbwd_dispatch_bytes_semaphore_size": 50_000_000,
    "sample_max_concurrent_requests": 2000,
    "use_pyqwest_transport": True,
    "sample_use_retrieve_futures": False,
}


def response(status: int, body: Any, content_type: str = "application/json") -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "OK")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(data)}\r\n"
        "\r\n"
    ).encode()
    return head + data


def jwt() -> str:
    """An unsigned JWT (the clients read its claims, they do not verify it), valid 1 hour."""
    import base64

    def part(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"sub": "bench-user", "org_id": "bench", "iat": now, "exp": now + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def future_reply(kind: str, n: int, **extra: Any) -> bytes:
    return response(200, {"request_id": f"{kind}:{n}", "model_id": MODEL_ID, **extra})


# ---------------------------------------------------------------------- canned results


def fb_json(datums: int, tokens: int) -> bytes:
    logprobs = {"data": [-1.0] * tokens, "dtype": "float32", "shape": [tokens]}
    return response(
        200,
        {
            "loss_fn_output_type": "ArrayRecord",
            "loss_fn_outputs": [{"logprobs": logprobs} for _ in range(datums)],
            "metrics": {"loss:sum": float(datums * tokens)},
        },
    )


def fb_proto(datums: int, tokens: int) -> bytes:
    import struct

    per_datum = struct.pack(f"<{tokens}f", *([-1.0] * tokens))
    offsets = struct.pack(f"<{datums + 1}q", *(i * len(per_datum) for i in range(datums + 1)))
    out = pb.ForwardBackwardOutput(loss_fn_output_type="ArrayRecord")
    out.metrics["loss:sum"] = float(datums * tokens)
    record = out.loss_fn_outputs.add(num_datums=datums)
    record.fields["logprobs"].CopyFrom(
        pb.BatchedTensor(data=per_datum * datums, offsets=offsets, dtype=pb.DTYPE_FLOAT32)
    )
    return response(200, out.SerializeToString(), PROTO)


def sample_json() -> bytes:
    sequence = {
        "stop_reason": "length",
        "tokens": list(range(SAMPLE_TOKENS)),
        "logprobs": [-0.5] * SAMPLE_TOKENS,
    }
    return response(200, {"sequences": [sequence]})


def sample_proto() -> bytes:
    import struct

    out = pb.SampleResponse()
    out.sequences.add(
        stop_reason=pb.STOP_REASON_LENGTH,
        tokens=struct.pack(f"<{SAMPLE_TOKENS}i", *range(SAMPLE_TOKENS)),
        logprobs=struct.pack(f"<{SAMPLE_TOKENS}f", *([-0.5] * SAMPLE_TOKENS)),
    )
    return response(200, out.SerializeToString(), PROTO)


def check_fb_request(body: bytes, encoding: str, datums: int, tokens: int) -> dict[str, Any]:
    """Decode one forward_backward body and compare it with the configured shape."""
    try:
        if encoding.endswith("+zstd"):
            import zstandard

            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        if encoding.startswith("protobuf"):
            req = pb.ForwardBackwardRequest.FromString(body)
            got = [sum(len(c.encoded_text.tokens) // 4 for c in d.model_input) for d in req.data]
            inputs = sorted(req.data[0].loss_fn_inputs) if req.data else []
            loss_fn = req.loss_fn
        else:
            req_json = json.loads(body)
            data = req_json["forward_backward_input"]["data"]
            got = [sum(len(c["tokens"]) for c in d["model_input"]["chunks"]) for d in data]
            inputs = sorted(data[0]["loss_fn_inputs"]) if data else []
            loss_fn = req_json["forward_backward_input"]["loss_fn"]
    except Exception as exc:  # reported, not raised: the stub keeps serving
        return {"encoding": encoding, "ok": False, "error": repr(exc)[:200]}
    # A chunked batch arrives as several requests: each must hold whole datums of that shape.
    ok = 0 < len(got) <= datums and all(n == tokens for n in got)
    ok = ok and inputs == ["target_tokens", "weights"] and loss_fn == "cross_entropy"
    return {"encoding": encoding, "ok": ok, "datums": len(got), "inputs": inputs}


# ---------------------------------------------------------------------- the server


class Stub:
    def __init__(self, try_again: int = 0, try_again_every: int = 1) -> None:
        self.stopping = asyncio.Event()
        self.try_again = try_again
        self.try_again_every = max(1, try_again_every)
        self.client_config = dict(DEFAULT_CLIENT_CONFIG)
        self.counter = 0
        self.pending: dict[bytes, int] = {}  # request id -> try_again replies still to give
        self.checked: set[str] = set()
        self.checks: list[dict[str, Any]] = []
        self.shape = (1, 16)
        self.results: dict[tuple[bytes, bool], bytes] = {}
        self.set_shape(1, 16)
        self.reset()

    def set_shape(self, datums: int, tokens: int) -> None:
        self.shape = (datums, tokens)
        self.results = {
            (b"fb", False): fb_json(datums, tokens),
            (b"fb", True): fb_proto(datums, tokens),
            (b"sample", False): sample_json(),
            (b"sample", True): sample_proto(),
            (b"optim", False): response(200, {"metrics": {"step": 1.0}}),
            (b"create_model", False): response(200, {"type": "create_model", "model_id": MODEL_ID}),
        }
        self.checked.clear()
        self.checks = []

    def reset(self) -> None:
        self.routes: dict[str, list[int]] = {}
        self.encodings: dict[str, int] = {}
        self.connections = 0

    def stats(self) -> dict[str, Any]:
        return {
            "routes": {
                k: {"requests": v[0], "bytes_in": v[1], "bytes_out": v[2]}
                for k, v in self.routes.items()
            },
            "encodings": self.encodings,
            "connections": self.connections,
            "checks": self.checks,
            "cpu_s": time.process_time(),
        }

    def future(self, kind: str, **extra: Any) -> bytes:
        self.counter += 1
        if self.try_again and self.counter % self.try_again_every == 0:
            self.pending[f"{kind}:{self.counter}".encode()] = self.try_again
        return future_reply(kind, self.counter, **extra)

    def retrieve(self, body: bytes, wants_proto: bool) -> bytes:
        # {"request_id":"<kind>:<n>",...}: found without a JSON parse
        start = body.find(b'"request_id"')
        first = body.find(b'"', body.find(b":", start) + 1) + 1
        request_id = body[first : body.find(b'"', first)]
        if self.try_again and request_id in self.pending:
            left = self.pending[request_id] - 1
            if left <= 0:
                del self.pending[request_id]
            else:
                self.pending[request_id] = left
            reply = {"type": "try_again", "request_id": request_id.decode()}
            return response(200, reply | {"queue_state": "active"})
        kind = request_id.split(b":", 1)[0]
        reply_bytes = self.results.get((kind, wants_proto and kind in (b"fb", b"sample")))
        if reply_bytes is None:
            return response(404, {"detail": f"unknown request id {request_id.decode()!r}"})
        return reply_bytes

    def forward_backward(self, head_lower: bytes, body: bytes) -> bytes:
        proto = b"content-type: application/x-protobuf" in head_lower
        encoding = "protobuf" if proto else "json"
        if b"\r\ncontent-encoding: zstd" in head_lower:
            encoding += "+zstd"
        self.encodings[encoding] = self.encodings.get(encoding, 0) + 1
        if encoding not in self.checked:
            self.checked.add(encoding)
            self.checks.append(check_fb_request(body, encoding, *self.shape))
        return self.future("fb")

    def route(self, path: bytes, head_lower: bytes, body: bytes) -> bytes:
        p = path.split(b"?", 1)[0].decode()
        if p == "/api/v1/retrieve_future":
            at = head_lower.find(b"\r\naccept:")
            accept = head_lower[at : head_lower.find(b"\r\n", at + 2)] if at >= 0 else b""
            return self.retrieve(body, b"application/x-protobuf" in accept)
        if p == "/api/v1/asample":
            return self.future("sample", sample_sequence_ids=[f"seq:{self.counter + 1}:0"])
        if p == "/api/v1/forward_backward":
            return self.forward_backward(head_lower, body)
        if p == "/api/v1/optim_step":
            return self.future("optim")
        if p == "/api/v1/create_model":
            return self.future("create_model")
        if p == "/api/v1/client/config":
            return response(200, self.client_config)
        if p == "/api/v1/auth/token":  # only with --client-config pjwt_auth_enabled=true
            return response(200, {"jwt": jwt()})
        if p == "/api/v1/client/dynamic_config":
            return response(200, {"refresh_interval_sec": 300})
        if p == "/api/v1/create_session":
            return response(200, {"type": "create_session", "session_id": SESSION_ID})
        if p == "/api/v1/session_heartbeat":
            return response(200, {"type": "session_heartbeat"})
        if p == "/api/v1/telemetry":
            return response(200, {"status": "accepted"})
        if p == "/api/v1/get_info":
            model_data = {"arch": "stub", "model_name": BASE_MODEL, "tokenizer_id": BASE_MODEL}
            info = {"type": "get_info", "model_id": MODEL_ID, "model_data": model_data}
            return response(200, info | {"is_lora": True, "lora_rank": 8, "model_name": BASE_MODEL})
        if p == "/api/v1/create_sampling_session":
            reply = {"type": "create_sampling_session", "sampling_session_id": f"{SESSION_ID}:s:0"}
            return response(200, reply)
        if p == "/api/v1/get_server_capabilities":
            model = {"model_name": BASE_MODEL, "max_context_length": 4096, "trainable": True}
            return response(200, {"supported_models": [model]})
        if p.startswith("/api/v1/samplers/"):
            return response(200, {"sampler_id": p.rsplit("/", 1)[-1], "base_model": BASE_MODEL})
        if p.startswith("/api/v1/sessions/") and p.endswith("/finish"):
            return response(200, {})
        return response(404, {"detail": "Not Found"})

    def control(self, path: bytes, body: bytes) -> bytes:
        if path == b"/_stats":
            return response(200, self.stats())
        if path == b"/_reset":
            self.reset()
            return response(200, {})
        if path == b"/_config":
            config = json.loads(body or b"{}")
            if "fb_datums" in config or "fb_tokens" in config:
                datums = int(config.get("fb_datums", self.shape[0]))
                self.set_shape(datums, int(config.get("fb_tokens", self.shape[1])))
            if "try_again" in config:
                self.try_again = int(config["try_again"])
            if "try_again_every" in config:
                self.try_again_every = max(1, int(config["try_again_every"]))
            self.client_config.update(config.get("client_config", {}))
            return response(200, {"client_config": self.client_config})
        if path == b"/_shutdown":
            self.stopping.set()
            return response(200, {})
        return response(404, {"detail": "Not Found"})

    async def read_body(self, reader: asyncio.StreamReader, head_lower: bytes) -> bytes:
        at = head_lower.find(b"\r\ncontent-length:")
        if at >= 0:
            length = int(head_lower[at + 17 : head_lower.find(b"\r\n", at + 2)])
            return await reader.readexactly(length) if length else b""
        if b"\r\ntransfer-encoding: chunked" not in head_lower:
            return b""
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                head_lower = head.lower()
                path = head[head.find(b" ") + 1 : head.find(b" ", head.find(b" ") + 1)]
                body = await self.read_body(reader, head_lower)
                if path.startswith(b"/api/"):
                    reply = self.route(path, head_lower, body)
                    route = path.split(b"?", 1)[0].decode()
                    if route.startswith("/api/v1/sessions/"):
                        route = "/api/v1/sessions/{id}/" + route.rsplit("/", 1)[-1]
                    elif route.startswith("/api/v1/samplers/"):
                        route = "/api/v1/samplers/{id}"
                    counts = self.routes.setdefault(route, [0, 0, 0])
                    counts[0] += 1
                    counts[1] += len(head) + len(body)
                    counts[2] += len(reply)
                else:
                    reply = self.control(path, body)
                writer.write(reply)
                if len(reply) > 65536:
                    await writer.drain()
                if b"\r\nconnection: close" in head_lower:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the server is stopping: not an error of this task
            pass
        finally:
            writer.close()

    async def serve(self, port: int, max_seconds: float) -> None:
        server = await asyncio.start_server(self.handle, HOST, port, backlog=1024, limit=1 << 20)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.call_later(max_seconds, self.stopping.set)  # bounded in time, whoever forgets it
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await self.stopping.wait()
        await asyncio.sleep(0.05)  # let the /_shutdown reply go out
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--try-again", type=int, default=0, help="try_again replies per future")
    parser.add_argument(
        "--try-again-every", type=int, default=1, help="only every K-th future gets them"
    )
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    args = parser.parse_args()
    asyncio.run(Stub(args.try_again, args.try_again_every).serve(args.port, args.max_seconds))
    sys.exit(0)


if __name__ == "__main__":
    main()
