"""Splitting a forward/backward batch into requests, and merging their outputs back.

Chunks respect the server's limits (datums per request and estimated bytes per request). Metrics
are keyed ``name:reduction`` and merged by that reduction: ``mean`` weighted by datums, ``sum``,
``min``, ``max``; a key missing from a chunk or with an unknown reduction is dropped (a merged
value that is wrong would be worse than none).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .types import Datum, EncodedTextChunk, ForwardBackwardOutput

__all__ = ["chunk_data", "datum_bytes", "merge_outputs"]

logger = logging.getLogger("tinkex")
_DTYPE_BYTES = {"int64": 8, "float32": 4}


def datum_bytes(datum: Datum) -> int:
    """An estimate of a datum's encoded size: 4 bytes a token, tensor bytes, 8 per sparse index."""
    total = 0
    for chunk in datum.model_input.chunks:
        if isinstance(chunk, EncodedTextChunk):
            total += 4 * chunk.length  # counted without making ``tokens`` from packed ids
        elif (tokens := getattr(chunk, "tokens", None)) is not None:
            total += 4 * len(tokens)
        else:
            payload = getattr(chunk, "data", None) or getattr(chunk, "dmel", None) or ""
            total += len(payload) * 3 // 4  # base64 text of the raw bytes
    for tensor in datum.loss_fn_inputs.values():
        kept = tensor.cached_array()  # its size, without making ``data`` from it
        count = kept.size if kept is not None else len(tensor.data)
        total += _DTYPE_BYTES.get(tensor.dtype, 8) * count
        total += 8 * len(tensor.sparse_crow_indices or ()) + 8 * len(
            tensor.sparse_col_indices or ()
        )
    return total


def chunk_data(data: Sequence[Datum], max_len: int, max_bytes: int) -> list[list[Datum]]:
    """Consecutive chunks of at most ``max_len`` datums and (beyond one datum) ``max_bytes``."""
    chunks: list[list[Datum]] = []
    current: list[Datum] = []
    size = 0
    for datum in data:
        nbytes = datum_bytes(datum)
        if current and (len(current) >= max_len or size + nbytes > max_bytes):
            chunks.append(current)
            current, size = [], 0
        current.append(datum)
        size += nbytes
    if current:
        chunks.append(current)
    return chunks


def merge_outputs(
    outputs: Sequence[ForwardBackwardOutput], sizes: Sequence[int]
) -> ForwardBackwardOutput:
    """One output for the whole batch, from one output per chunk (``sizes``: datums per chunk)."""
    if len(outputs) == 1:
        return outputs[0]
    metrics: dict[str, float] = {}
    keys = set(outputs[0].metrics)
    for out in outputs[1:]:
        keys &= set(out.metrics)
    dropped = set().union(*(o.metrics for o in outputs)) - keys
    total = sum(sizes)
    for key in sorted(keys):
        values = [o.metrics[key] for o in outputs]
        reduction = key.rsplit(":", 1)[-1] if ":" in key else ""
        if reduction == "mean":
            metrics[key] = sum(v * n for v, n in zip(values, sizes, strict=True)) / total
        elif reduction == "sum":
            metrics[key] = sum(values)
        elif reduction == "min":
            metrics[key] = min(values)
        elif reduction == "max":
            metrics[key] = max(values)
        else:
            dropped.add(key)
    if dropped:
        logger.debug("metrics not merged across chunks (unknown reduction or missing): %s", dropped)
    return ForwardBackwardOutput(
        loss_fn_output_type=outputs[0].loss_fn_output_type,
        loss_fn_outputs=[item for o in outputs for item in o.loss_fn_outputs],
        metrics=metrics,
    )
