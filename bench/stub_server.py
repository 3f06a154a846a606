"""A zero-compute Tinker stub for ``make bench``: canned JSON over HTTP/1.1 keep-alive.

One asyncio process on 127.0.0.1, stdlib only. Every future-returning endpoint replies with a
request id that names its kind; ``retrieve_future`` answers with that kind's canned result at
once (no "try again"), so both sides of the benchmark do exactly the same two exchanges per
operation: submit, retrieve. The stub's cost per request is identical for tinkex and for the
bare-httpx floor, so it does not favour either.

Control endpoints (for the bench only):
  GET  /_stats     {"connections", "requests", "bytes_in", "bytes_out", "last_body": {...}}
  POST /_reset     zero the counters
  POST /_config    {"fb_datums": D, "fb_tokens": T}: shape of the forward_backward result
  POST /_shutdown  stop serving and exit

Run: ``python bench/stub_server.py`` prints ``PORT <n>`` once it listens; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from typing import Any

HOST = "127.0.0.1"
MODEL_ID = "bench-session:train:0"
SESSION_ID = "bench-session"
BASE_MODEL = "stub/model"


class Stats:
    connections = 0
    requests = 0
    bytes_in = 0
    bytes_out = 0
    last_body: dict[str, int] = {}  # noqa: RUF012


def _response(status: int, body: Any) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    reason = {200: "OK", 404: "Not Found", 400: "Bad Request"}.get(status, "OK")
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n"
        "\r\n"
    ).encode()
    return head + data


def _future(request_id: str, **extra: Any) -> bytes:
    return _response(200, {"request_id": request_id, **extra})


def fb_result(datums: int, tokens: int) -> bytes:
    logprobs = {"data": [-1.0] * tokens, "dtype": "float32", "shape": [tokens]}
    return _response(
        200,
        {
            "loss_fn_output_type": "ArrayRecord",
            "loss_fn_outputs": [{"logprobs": logprobs} for _ in range(datums)],
            "metrics": {"loss:sum": float(datums * tokens)},
        },
    )


SAMPLE_TOKENS = 16

STATIC: dict[bytes, bytes] = {
    b"/api/v1/client/config": _response(404, {"detail": "Not Found"}),
    b"/api/v1/client/dynamic_config": _response(404, {"detail": "Not Found"}),
    b"/api/v1/create_session": _response(200, {"type": "create_session", "session_id": SESSION_ID}),
    b"/api/v1/session_heartbeat": _response(200, {"type": "session_heartbeat"}),
    b"/api/v1/create_model": _future("create_model", model_id=MODEL_ID),
    b"/api/v1/get_info": _response(
        200,
        {
            "type": "get_info",
            "model_id": MODEL_ID,
            "model_data": {"arch": "stub", "model_name": BASE_MODEL, "tokenizer_id": BASE_MODEL},
            "is_lora": True,
            "lora_rank": 8,
            "model_name": BASE_MODEL,
        },
    ),
    b"/api/v1/forward_backward": _future("fb", model_id=MODEL_ID),
    b"/api/v1/forward": _future("fb", model_id=MODEL_ID),
    b"/api/v1/optim_step": _future("optim", model_id=MODEL_ID),
    b"/api/v1/save_weights_for_sampler": _future("save_sampler", model_id=MODEL_ID),
    b"/api/v1/asample": _future("sample", sample_sequence_ids=["sample:0"]),
    b"/api/v1/create_sampling_session": _response(
        200,
        {"type": "create_sampling_session", "sampling_session_id": f"{SESSION_ID}:sample:0"},
    ),
    b"/api/v1/get_server_capabilities": _response(
        200,
        {
            "supported_models": [
                {"model_name": BASE_MODEL, "max_context_length": 4096, "trainable": True}
            ]
        },
    ),
}

RESULTS: dict[bytes, bytes] = {
    b"create_model": _response(200, {"type": "create_model", "model_id": MODEL_ID}),
    b"optim": _response(200, {"metrics": {"step": 1.0}}),
    b"save_sampler": _response(
        200,
        {
            "path": f"tinker://{MODEL_ID}/sampler_weights/bench",
            "sampling_session_id": f"{SESSION_ID}:sample:1",
        },
    ),
    b"sample": _response(
        200,
        {
            "sequences": [
                {
                    "stop_reason": "length",
                    "tokens": list(range(SAMPLE_TOKENS)),
                    "logprobs": [-0.5] * SAMPLE_TOKENS,
                }
            ]
        },
    ),
    b"fb": fb_result(1, 16),
}

NOT_FOUND = _response(404, {"detail": "Not Found"})
OK_EMPTY = _response(200, {})


def _request_id(body: bytes) -> bytes:
    # {"request_id":"<kind>",...}: the kind is a fixed word, no JSON parse needed
    start = body.find(b'"request_id"')
    if start < 0:
        return b""
    first = body.find(b'"', body.find(b":", start) + 1) + 1
    return body[first : body.find(b'"', first)]


class Stub:
    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    def route(self, method: bytes, path: bytes, body: bytes) -> bytes:
        path = path.split(b"?", 1)[0]
        if path == b"/api/v1/retrieve_future":
            return RESULTS.get(_request_id(body), NOT_FOUND)
        reply = STATIC.get(path)
        if reply is not None:
            return reply
        if path.startswith(b"/api/v1/sessions/") and path.endswith(b"/finish"):
            return OK_EMPTY
        if path.startswith(b"/api/v1/samplers/"):
            return _response(
                200, {"sampler_id": path.rsplit(b"/", 1)[-1].decode(), "base_model": BASE_MODEL}
            )
        if path == b"/_stats":
            return _response(
                200,
                {
                    "connections": Stats.connections,
                    "requests": Stats.requests,
                    "bytes_in": Stats.bytes_in,
                    "bytes_out": Stats.bytes_out,
                    "last_body": Stats.last_body,
                },
            )
        if path == b"/_reset":
            Stats.connections = Stats.requests = Stats.bytes_in = Stats.bytes_out = 0
            Stats.last_body = {}
            return OK_EMPTY
        if path == b"/_config":
            config = json.loads(body or b"{}")
            RESULTS[b"fb"] = fb_result(int(config["fb_datums"]), int(config["fb_tokens"]))
            return OK_EMPTY
        if path == b"/_shutdown":
            self.stopping.set()
            return OK_EMPTY
        return NOT_FOUND

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        Stats.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line_end = head.find(b"\r\n")
                method, path, _version = head[:line_end].split(b" ", 2)
                lower = head.lower()
                at = lower.find(b"\r\ncontent-length:")
                length = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
                if b"\r\ntransfer-encoding: chunked" in lower:
                    writer.write(_response(400, {"detail": "chunked bodies not supported"}))
                    break
                body = await reader.readexactly(length) if length else b""
                reply = self.route(method, path, body)
                if path.startswith(b"/api/"):  # the bench's own control requests not counted
                    Stats.requests += 1
                    Stats.bytes_in += len(head) + length
                    Stats.bytes_out += len(reply)
                    Stats.last_body[path.split(b"?", 1)[0].decode()] = length
                writer.write(reply)
                if len(reply) > 65536:
                    await writer.drain()
                if b"\r\nconnection: close" in lower:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def serve(self, port: int) -> None:
        server = await asyncio.start_server(self.handle, HOST, port, backlog=1024)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await self.stopping.wait()
        await asyncio.sleep(0.05)  # let the /_shutdown reply go out
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(Stub().serve(args.port))
    sys.exit(0)


if __name__ == "__main__":
    main()
