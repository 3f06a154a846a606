"""State records of the fake Tinker server and its deterministic "model" arithmetic.

Nothing here does I/O. The numbers only need to be deterministic, cheap, and to move the
right way: every applied optim_step bumps a model's ``weights`` counter, and the logprobs
(and so the loss) of a datum shrink in magnitude by ``DECAY`` per step.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field
from typing import Any

from tinkex._generated import models as m

__all__ = [
    "DECAY",
    "CheckpointRecord",
    "FutureRecord",
    "ModelRecord",
    "SamplerRecord",
    "SessionRecord",
    "dense",
    "flatten_tokens",
    "forward_outputs",
    "now",
    "parse_tinker_path",
    "sample_outputs",
    "token_logprob",
]

#: Loss multiplier per applied optim step.
DECAY = 0.85
VOCAB = 1000
_DEFAULT_MAX_TOKENS = 16  # used when sampling_params.max_tokens is None (ends with "stop")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class SessionRecord:
    session_id: str
    tags: list[str]
    user_metadata: dict[str, Any] | None
    sdk_version: str
    display_name: str | None = None
    project_id: str | None = None
    created: dt.datetime = field(default_factory=now)
    heartbeats: int = 0
    finish_reason: str | None = None  # "success" | "errored" | "interrupted"
    finish_detail: str | None = None
    expired: bool = False
    model_ids: list[str] = field(default_factory=list)
    sampler_ids: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None or self.expired


@dataclass
class ModelRecord:
    model_id: str
    session_id: str
    base_model: str
    lora_config: dict[str, Any] | None
    optimizer_config: dict[str, Any]
    user_metadata: dict[str, Any] | None = None
    weights: int = 0  # applied optim steps (or loaded from a checkpoint)
    unloaded: bool = False
    corrupted: bool = False  # reported by get_training_run (a test sets it)
    created: dt.datetime = field(default_factory=now)
    last_request_time: dt.datetime = field(default_factory=now)
    auto_names: int = 0

    @property
    def lora_rank(self) -> int | None:
        return None if self.lora_config is None else int(self.lora_config["rank"])


@dataclass
class CheckpointRecord:
    run_id: str
    checkpoint_id: str  # "weights/<name>", "sampler_weights/<name>", "external_weights/<name>"
    checkpoint_type: str  # "training" | "sampler" | "external"
    weights: int
    time: dt.datetime = field(default_factory=now)
    user_metadata: dict[str, Any] | None = None
    ttl_seconds: int | None = None

    @property
    def tinker_path(self) -> str:
        return f"tinker://{self.run_id}/{self.checkpoint_id}"

    def to_json(self) -> dict[str, Any]:
        expires = (
            None if self.ttl_seconds is None else self.time + dt.timedelta(seconds=self.ttl_seconds)
        )
        return m.Checkpoint(
            checkpoint_id=self.checkpoint_id,
            checkpoint_type=self.checkpoint_type,
            time=self.time,
            tinker_path=self.tinker_path,
            size_bytes=1024 * (1 + self.weights),
            user_metadata=self.user_metadata,
            expires_at=expires,
        ).model_dump(mode="json", exclude_none=True)


@dataclass
class SamplerRecord:
    sampler_id: str
    session_id: str | None
    base_model: str
    model_path: str | None = None
    model_id: str | None = None
    weights: int = 0
    live: bool = False  # kind="inflight": follows the model's current weights


@dataclass
class FutureRecord:
    request_id: str
    endpoint: str
    model_id: str | None
    result: dict[str, Any] | None = None
    result_model: type[Any] | None = None
    error: dict[str, str] | None = None
    try_agains: int = 0
    expired: bool = False
    metadata_sent: bool = False
    polls: int = 0


_KINDS = {
    "weights": "training",
    "sampler_weights": "sampler",
    "external_weights": "external",
}


def parse_tinker_path(path: str) -> tuple[str, str, str] | None:
    """``tinker://<run>/<kind>/<name>`` -> (run, checkpoint_id, checkpoint_type), else None."""
    if not path.startswith("tinker://"):
        return None
    parts = path[len("tinker://") :].rsplit("/", 2)
    if len(parts) != 3 or not all(parts) or parts[1] not in _KINDS:
        return None
    run, kind, name = parts
    return run, f"{kind}/{name}", _KINDS[kind]


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


def token_logprob(token: int, pos: int, weights: int) -> float:
    """The fake model's logprob of ``token`` at ``pos`` after ``weights`` optim steps."""
    base = 1.0 + ((token * 2654435761 + pos * 40503) % 1000) / 1000.0
    return _f32(-base * DECAY**weights)


def dense(td: m.TensorData) -> tuple[list[float], list[int]]:
    """Flat row-major values and shape of a (possibly CSR-sparse) TensorData."""
    data = [float(v) for v in td.data]
    if td.sparse_crow_indices is not None and td.sparse_col_indices is not None:
        rows = len(td.sparse_crow_indices) - 1
        cols = (
            td.shape[1]
            if td.shape and len(td.shape) > 1
            else max(td.sparse_col_indices, default=-1) + 1
        )
        out = [0.0] * (rows * cols)
        for r in range(rows):
            for k in range(td.sparse_crow_indices[r], td.sparse_crow_indices[r + 1]):
                out[r * cols + td.sparse_col_indices[k]] = data[k]
        return out, [rows, cols]
    return data, list(td.shape) if td.shape else [len(data)]


def flatten_tokens(model_input: m.ModelInput) -> list[int]:
    tokens: list[int] = []
    for chunk in model_input.chunks:
        if isinstance(chunk, m.EncodedTextChunk):
            tokens.extend(chunk.tokens)
        elif isinstance(chunk, m.ImageChunk | m.ImageAssetPointerChunk):
            tokens.extend([0] * (chunk.expected_tokens or 0))
    return tokens


def forward_outputs(data: list[m.Datum], weights: int) -> dict[str, Any]:
    """A ForwardBackwardOutput (JSON) for ``data`` on a model at ``weights``."""
    outputs: list[dict[str, Any]] = []
    loss = 0.0
    for datum in data:
        targets = datum.loss_fn_inputs.get("target_tokens")
        if targets is not None:
            values, shape = dense(targets)
        else:
            values = [float(t) for t in flatten_tokens(datum.model_input)]
            shape = [len(values)]
        lps = [token_logprob(int(v), i, weights) for i, v in enumerate(values)]
        wt = datum.loss_fn_inputs.get("weights") or datum.loss_fn_inputs.get("advantages")
        w = dense(wt)[0] if wt is not None else []
        if len(w) != len(lps):
            w = [1.0] * len(lps)
        loss += sum(-lp * wi for lp, wi in zip(lps, w, strict=True))
        outputs.append({"logprobs": {"data": lps, "dtype": "float32", "shape": shape}})
    return m.ForwardBackwardOutput(
        loss_fn_output_type="ArrayRecord",
        loss_fn_outputs=outputs,
        metrics={"loss:sum": loss},
    ).model_dump(mode="json", exclude_none=True)


def sample_outputs(req: m.SampleRequest, weights: int, sequence_ids: list[str]) -> dict[str, Any]:
    """A SampleResponse (JSON): deterministic tokens honouring max_tokens / integer stops."""
    prompt = flatten_tokens(req.prompt)
    params = req.sampling_params
    seed = params.seed or 0
    limit = params.max_tokens if params.max_tokens is not None else _DEFAULT_MAX_TOKENS
    stop_tokens = (
        set(params.stop)
        if isinstance(params.stop, list) and all(isinstance(s, int) for s in params.stop)
        else set()
    )
    start = sum(prompt) + seed + weights
    sequences = []
    for s, seq_id in enumerate(sequence_ids):
        tokens: list[int] = []
        reason = "length" if params.max_tokens is not None else "stop"
        for j in range(limit):
            tok = 1 + (start + 31 * s + 7 * j) % VOCAB
            tokens.append(tok)
            if tok in stop_tokens:
                reason = "stop"
                break
        logprobs = [_f32(-(0.1 + (t * 13 % 100) / 100.0)) for t in tokens]
        sequences.append(
            {"stop_reason": reason, "tokens": tokens, "logprobs": logprobs, "sequence_id": seq_id}
        )
    out: dict[str, Any] = {"sequences": sequences, "prompt_cache_hit_tokens": 0}
    if req.prompt_logprobs:
        first = 1
        if req.prompt_logprobs_last_n is not None:
            first = max(1, len(prompt) - req.prompt_logprobs_last_n)
        out["prompt_logprobs"] = [
            token_logprob(t, i, weights) if i >= first else None for i, t in enumerate(prompt)
        ]
    if req.topk_prompt_logprobs > 0:
        k = req.topk_prompt_logprobs
        out["topk_prompt_logprobs"] = [
            None
            if i == 0
            else [[1 + (t + r) % VOCAB, token_logprob(t + r, i, weights)] for r in range(k)]
            for i, t in enumerate(prompt)
        ]
    return m.SampleResponse.model_validate(out).model_dump(mode="json", exclude_none=True)
