"""The floor: a bare ``httpx.AsyncClient`` doing the same HTTP exchanges as an SDK, nothing else.

It sends the JSON bodies tinkex's JSON mode sends (field for field), parses every reply with
``json.loads``, and has no retries, models, telemetry or futures: what is left is the cost of
HTTP itself in Python. Sampling uses one client for submissions and one for polls, each sized
to the concurrency (httpcore's cost per request grows with the requests queued on one pool).
Training steps run on an event loop of the floor's own, as an SDK's background loop would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from common import API_KEY, BASE_MODEL, MAX_TOKENS, PROMPT_TOKENS, Rows, check

JSON_HEADERS = {"content-type": "application/json", "x-api-key": API_KEY}
MODEL_ID = "bench-session:train:0"
SAMPLING_SESSION = "bench-session:s:0"


def sample_body(seq_id: int, prompt: list[int]) -> bytes:
    return json.dumps(
        {
            "num_samples": 1,
            "prompt": {"chunks": [{"tokens": prompt, "type": "encoded_text"}]},
            "sampling_params": {
                "max_tokens": MAX_TOKENS,
                "temperature": 1.0,
                "top_k": -1,
                "top_p": 1.0,
            },
            "sampling_session_id": SAMPLING_SESSION,
            "seq_id": seq_id,
            "prompt_logprobs": False,
            "topk_prompt_logprobs": 0,
            "topk_sample_logprobs": 0,
            "prompt_alt_tokens_k": 0,
            "record_stability_info": False,
            "type": "sample",
        },
        separators=(",", ":"),
    ).encode()


def fb_body(rows: Rows, seq_id: int) -> bytes:
    data = [
        {
            "model_input": {"chunks": [{"tokens": inp, "type": "encoded_text"}]},
            "loss_fn_inputs": {
                "target_tokens": {"data": tgt, "dtype": "int64", "shape": [len(tgt)]},
                "weights": {"data": w, "dtype": "float32", "shape": [len(w)]},
            },
        }
        for inp, tgt, w in rows
    ]
    body = {
        "forward_backward_input": {"data": data, "loss_fn": "cross_entropy"},
        "model_id": MODEL_ID,
        "seq_id": seq_id,
        "type": "forward_backward",
    }
    return json.dumps(body, separators=(",", ":")).encode()


def optim_body(seq_id: int) -> bytes:
    adam = {"learning_rate": 1e-4, "beta1": 0.9, "beta2": 0.95, "eps": 1e-12}
    adam |= {"weight_decay": 0.0, "grad_clip_norm": 0.0}
    body = {"model_id": MODEL_ID, "seq_id": seq_id, "adam_params": adam, "type": "optim_step"}
    return json.dumps(body, separators=(",", ":")).encode()


async def retrieve(client: Any, request_id: str) -> Any:
    while True:
        poll = {"request_id": request_id, "allow_metadata_only": True}
        r = await client.post(
            "/api/v1/retrieve_future", content=json.dumps(poll).encode(), headers=JSON_HEADERS
        )
        r.raise_for_status()
        reply = r.json()
        if reply.get("type") != "try_again":
            return reply


class FloorContender:
    def __init__(self) -> None:
        self.httpx: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: Any = None
        self.seq = itertools.count(1)

    def load(self) -> None:
        import httpx

        self.httpx = httpx

    def resolve(self) -> None:
        self.httpx.AsyncClient  # noqa: B018

    def connect(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        limits = self.httpx.Limits(max_connections=4, max_keepalive_connections=4)

        async def start() -> None:
            self.client = self.httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0)
            # What an SDK does before its first training call: a session and a model.
            for path, body in (
                ("/api/v1/create_session", {"tags": [], "user_metadata": {}, "sdk_version": "0"}),
                ("/api/v1/create_model", {"session_id": "bench-session", "base_model": BASE_MODEL}),
            ):
                r = await self.client.post(path, json=body, headers=JSON_HEADERS)
                r.raise_for_status()
            await retrieve(self.client, r.json()["request_id"])

        self.loop.run_until_complete(start())

    @contextlib.asynccontextmanager
    async def sampler(self, concurrency: int) -> AsyncIterator[Callable[[], Awaitable[None]]]:
        httpx = self.httpx
        prompt = list(range(PROMPT_TOKENS))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with (
            httpx.AsyncClient(base_url=self.url, limits=limits, timeout=60.0) as submit,
            httpx.AsyncClient(base_url=self.url, limits=limits, timeout=60.0) as poll,
        ):
            seq = itertools.count()

            async def one() -> None:
                r = await submit.post(
                    "/api/v1/asample", content=sample_body(next(seq), prompt), headers=JSON_HEADERS
                )
                r.raise_for_status()
                result = await retrieve(poll, r.json()["request_id"])
                tokens = result["sequences"][0]["tokens"]
                check(len(tokens) == MAX_TOKENS, f"{len(tokens)} tokens sampled")

            yield one

    def train_step(self, rows: Rows, check_result: bool = False) -> None:
        client, seq = self.client, self.seq

        async def step() -> None:
            r1 = await client.post(
                "/api/v1/forward_backward", content=fb_body(rows, next(seq)), headers=JSON_HEADERS
            )
            r1.raise_for_status()
            r2 = await client.post(
                "/api/v1/optim_step", content=optim_body(next(seq)), headers=JSON_HEADERS
            )
            r2.raise_for_status()
            fb, opt = await asyncio.gather(
                retrieve(client, r1.json()["request_id"]),
                retrieve(client, r2.json()["request_id"]),
            )
            check(len(fb["loss_fn_outputs"]) == len(rows), "forward_backward outputs")
            check(opt["metrics"] is not None, "optim_step metrics")

        assert self.loop is not None
        self.loop.run_until_complete(step())

    def describe(self) -> dict[str, Any]:
        return {"module": "httpx", "version": self.httpx.__version__, "pyqwest_loaded": False}

    def close(self) -> None:
        if self.loop is not None:
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()
            self.loop = None
