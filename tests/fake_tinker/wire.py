"""The fake server's side of the protobuf wire format, written independently of ``tinkex._proto``.

Requests arrive as ``tinker_public.ForwardBackwardRequest`` and are turned into the JSON shape
the fake's handlers already take; results (``ForwardBackwardOutput``, ``SampleResponse``) leave
as protobuf bytes built from the JSON shape the handlers produce. Only the compiled message
classes are shared with tinkex (they are the schema); the packing here is this file's own, so a
packing bug in tinkex does not cancel out against the same bug here.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from tinkex._generated import tinker_public_pb2 as pb

__all__ = ["PROTOBUF", "encode_result", "forward_backward_json"]

PROTOBUF = "application/x-protobuf"
_DTYPES = {pb.DTYPE_FLOAT32: ("float32", "f", 4), pb.DTYPE_INT64: ("int64", "q", 8)}


def _unpack(code: str, size: int, data: bytes) -> list[Any]:
    if len(data) % size:
        raise ValueError(f"{len(data)} bytes is not a whole number of {size}-byte values")
    return list(struct.unpack(f"<{len(data) // size}{code}", data))


def _tensor_json(tensor: pb.Tensor) -> dict[str, Any]:
    if tensor.dtype not in _DTYPES:
        raise ValueError(f"unsupported tensor dtype {tensor.dtype}")
    name, code, size = _DTYPES[tensor.dtype]
    out: dict[str, Any] = {"dtype": name, "shape": list(tensor.shape)}
    if tensor.WhichOneof("encoding") == "sparse_csr":
        csr = tensor.sparse_csr
        out["data"] = _unpack(code, size, csr.values)
        out["sparse_crow_indices"] = _unpack("q", 8, csr.crow_indices)
        out["sparse_col_indices"] = _unpack("q", 8, csr.col_indices)
    else:
        out["data"] = _unpack(code, size, tensor.dense)
    return out


def _chunk_json(chunk: pb.Chunk) -> dict[str, Any]:
    kind = chunk.WhichOneof("chunk")
    if kind == "encoded_text":
        return {"type": "encoded_text", "tokens": _unpack("i", 4, chunk.encoded_text.tokens)}
    raise ValueError(f"the fake server does not train on {kind} chunks")


def forward_backward_json(raw: bytes) -> tuple[dict[str, Any], bool]:
    """A protobuf forward_backward body as the JSON body of ``/forward_backward`` (or, when
    ``forward_only`` is set, of ``/forward``), and that flag."""
    req = pb.ForwardBackwardRequest.FromString(raw)
    config: dict[str, Any] = dict(req.loss_fn_config)
    for key, value in req.loss_fn_config_v2.items():
        config[key] = value.number if value.WhichOneof("value") == "number" else value.text
    batch: dict[str, Any] = {
        "data": [
            {
                "model_input": {"chunks": [_chunk_json(c) for c in d.model_input]},
                "loss_fn_inputs": {k: _tensor_json(t) for k, t in d.loss_fn_inputs.items()},
            }
            for d in req.data
        ],
        "loss_fn": req.loss_fn,
    }
    if config:
        batch["loss_fn_config"] = config
    key = "forward_input" if req.forward_only else "forward_backward_input"
    return {key: batch, "model_id": req.model_id, "seq_id": req.seq_id}, req.forward_only


def _forward_backward_output(result: dict[str, Any]) -> bytes:
    out = pb.ForwardBackwardOutput(
        loss_fn_output_type=f"tinker:{result.get('loss_fn_output_type') or 'ArrayRecord'}"
    )
    for key, value in (result.get("metrics") or {}).items():
        out.metrics[key] = value
    datums = result.get("loss_fn_outputs") or []
    record = out.loss_fn_outputs.add(type_tag="ArrayRecord", num_datums=len(datums))
    for name in datums[0] if datums else ():
        dtype = datums[0][name]["dtype"]
        code, size = ("f", 4) if dtype == "float32" else ("q", 8)
        parts, offsets = [], [0]
        for datum in datums:
            values = datum[name]["data"]
            parts.append(struct.pack(f"<{len(values)}{code}", *values))
            offsets.append(offsets[-1] + len(values) * size)
        field = record.fields[name]
        field.data = b"".join(parts)
        field.offsets = struct.pack(f"<{len(offsets)}q", *offsets)
        field.dtype = pb.DTYPE_FLOAT32 if dtype == "float32" else pb.DTYPE_INT64
        field.trailing_shape.extend((datums[0][name].get("shape") or [0])[1:])
    return out.SerializeToString()


def _floats(values: list[float | None]) -> bytes:
    return struct.pack(f"<{len(values)}f", *(math.nan if v is None else v for v in values))


def _sample_response(result: dict[str, Any]) -> bytes:
    out = pb.SampleResponse(prompt_cache_hit_tokens=result.get("prompt_cache_hit_tokens") or 0)
    for seq in result.get("sequences") or []:
        message = out.sequences.add(
            stop_reason=pb.STOP_REASON_LENGTH
            if seq.get("stop_reason") == "length"
            else pb.STOP_REASON_STOP,
            tokens=struct.pack(f"<{len(seq['tokens'])}i", *seq["tokens"]),
        )
        if seq.get("logprobs") is not None:
            message.logprobs = _floats(seq["logprobs"])
    if result.get("prompt_logprobs") is not None:
        out.prompt_logprobs = _floats(result["prompt_logprobs"])
    return out.SerializeToString()


_ENCODERS = {"ForwardBackwardOutput": _forward_backward_output, "SampleResponse": _sample_response}


def encode_result(model_name: str, result: dict[str, Any]) -> bytes | None:
    """The protobuf bytes of a result, when its type travels as protobuf (else ``None``)."""
    encode = _ENCODERS.get(model_name)
    return encode(result) if encode is not None else None
