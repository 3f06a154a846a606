"""The Tinker protobuf wire format: training batches in, training and sampling results out.

Token ids, weights and tensors are packed into bytes through numpy (little-endian int32 tokens;
float32 / int64 tensors; int64 sparse indices), never one Python object per number on the way
out. Results are unpacked the same way: a result's arrays are read with ``numpy.frombuffer``
and handed to the public types, which keep the arrays for ``to_numpy()``.

Facts from the wire reference (section 9): numeric ``loss_fn_config`` values are written to
both the legacy ``double`` map and the v2 map, strings to v2 only; a ``BatchedTensor`` holds
every datum's values back to back with ``num_datums + 1`` int64 byte offsets; bf16 values widen
to float32 and int32 to int64; ``loss_fn_output_type`` keeps the text after its last ``:``.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np

from ._generated import tinker_public_pb2 as pb
from ._validation import InvalidInputError, check_packed
from .types import (
    Datum,
    EncodedTextChunk,
    ForwardBackwardOutput,
    SampledSequence,
    SampleResponse,
    TensorData,
    TensorDtype,
)
from .types._model_input import DmelChunk, ImageAssetPointerChunk, ImageChunk

__all__ = [
    "EncodedForwardBackward",
    "WireInputError",
    "decode_forward_backward_output",
    "decode_sample_response",
    "encode_forward_backward",
    "encode_forward_backward_bytes",
]

_INT32 = np.dtype("<i4")
_INT64 = np.dtype("<i8")
_FLOAT32 = np.dtype("<f4")
_OUT_DTYPES: dict[str, tuple[pb.DType, np.dtype[Any]]] = {
    "float32": (pb.DTYPE_FLOAT32, _FLOAT32),
    "int64": (pb.DTYPE_INT64, _INT64),
}
_STOP_REASONS: dict[int, Literal["stop", "length"]] = {
    pb.STOP_REASON_STOP: "stop",
    pb.STOP_REASON_LENGTH: "length",
}
_MASK_LOGPROB = -99999.0  # an empty top-k slot (with token id 0)
_WIRE_SIZES = {pb.DTYPE_FLOAT32: 4, pb.DTYPE_INT64: 8, pb.DTYPE_INT32: 4, pb.DTYPE_BFLOAT16: 2}


class WireInputError(InvalidInputError):
    """A training datum cannot be encoded: the message names the datum and the field (a
    ``ValueError`` in the SDK's error tree, as every refused input is)."""


# ---------------------------------------------------------------------- encoding


_STRUCT_CODES = {"i4": "i", "i8": "q", "f4": "f"}


def _packed(values: Any, dtype: np.dtype[Any], where: str) -> Any:
    """``values`` (a list or an array) as packed little-endian ``dtype`` bytes (or a view of an
    array already holding exactly those bytes)."""
    if isinstance(values, np.ndarray) and values.dtype == dtype and values.flags.c_contiguous:
        return values.data.cast("B")  # already these bytes: joined without a copy
    if isinstance(values, list):
        # struct packs a list of Python numbers about twice as fast as building an array.
        code = _STRUCT_CODES[dtype.str[1:]]
        try:
            return struct.pack(f"<{len(values)}{code}", *values)
        except OverflowError as err:  # a float beyond float32's range
            raise WireInputError(f"{where}: a value does not fit in {dtype.name}: {err}") from None
        except struct.error as err:
            if code != "f" and all(isinstance(v, int) for v in values):
                raise WireInputError(
                    f"{where}: a value does not fit in {dtype.name}: {err}"
                ) from None
            # Not plain numbers (bools, numpy scalars, strings): numpy decides.
    try:
        packed = np.asarray(values, dtype=dtype)
    except OverflowError as err:
        raise WireInputError(f"{where}: a value does not fit in {dtype.name}: {err}") from None
    except (TypeError, ValueError) as err:
        raise WireInputError(f"{where}: expected numbers for a {dtype.name} array: {err}") from None
    return packed.tobytes()


def _tokens(tokens: Any, where: str) -> Any:
    if isinstance(tokens, np.ndarray) and tokens.dtype != _INT32:
        if tokens.size and (tokens.min() < -(2**31) or tokens.max() >= 2**31):
            raise WireInputError(f"{where}: token ids must fit in int32")
        packed = tokens.astype(_INT32).tobytes()
    else:
        packed = _packed(tokens, _INT32, where)
    check_packed(packed, _INT32, where, tokens=True)  # no negative id leaves the client
    return packed


def _chunk(chunk: Any, where: str) -> pb.Chunk:
    if isinstance(chunk, EncodedTextChunk) or getattr(chunk, "type", None) == "encoded_text":
        return pb.Chunk(
            encoded_text=pb.EncodedTextChunk(tokens=bytes(_tokens(chunk.tokens, where)))
        )
    if isinstance(chunk, ImageChunk) or getattr(chunk, "type", None) == "image":
        image = pb.ImageChunk(data=_raw(chunk.data), format=chunk.format)
        if chunk.expected_tokens is not None:
            image.expected_tokens = chunk.expected_tokens
        return pb.Chunk(image=image)
    if isinstance(chunk, DmelChunk) or getattr(chunk, "type", None) == "dmel":
        return pb.Chunk(dmel=pb.DmelChunk(dmel=_raw(chunk.dmel)))
    if isinstance(chunk, ImageAssetPointerChunk):
        raise WireInputError(
            f"{where}: an image_asset_pointer chunk cannot be sent for training; "
            "load the image and pass it as an ImageChunk"
        )
    raise WireInputError(f"{where}: unknown chunk type {type(chunk).__name__}")


def _raw(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else base64.b64decode(value)


def _wire_dtype(tensor: TensorData, where: str) -> tuple[pb.DType, np.dtype[Any]]:
    if tensor.dtype not in _OUT_DTYPES:
        raise WireInputError(
            f"{where}: dtype {tensor.dtype!r} cannot be sent; use 'float32' or 'int64'"
        )
    return _OUT_DTYPES[tensor.dtype]


def _dense(tensor: TensorData, where: str) -> tuple[pb.DType, Any, list[int]]:
    """A dense tensor's dtype code, packed values and shape, checked against each other."""
    code, dtype = _wire_dtype(tensor, where)
    dense = _packed(_values(tensor), dtype, where)
    check_packed(dense, dtype, where)  # no NaN or infinity, unless the call allows them
    count = len(dense) // dtype.itemsize
    shape = list(tensor.shape) if tensor.shape is not None else [count]
    if math.prod(shape) != count:
        raise WireInputError(f"{where}: shape {shape} holds {math.prod(shape)} values, got {count}")
    return code, dense, shape


def _tensor(tensor: TensorData, where: str) -> pb.Tensor:
    code, dtype = _wire_dtype(tensor, where)
    shape = list(tensor.shape) if tensor.shape is not None else None
    crow, col = tensor.sparse_crow_indices, tensor.sparse_col_indices
    if (crow is None) != (col is None):
        raise WireInputError(f"{where}: a sparse tensor needs both crow and col indices")
    if crow is not None and col is not None:
        if shape is None or len(shape) != 2:
            raise WireInputError(f"{where}: a sparse tensor needs a 2-D shape, got {shape}")
        if len(crow) != shape[0] + 1 or len(col) != len(tensor.data):
            raise WireInputError(
                f"{where}: sparse indices do not match: {len(crow)} row offsets for "
                f"{shape[0]} rows, {len(col)} column indices for {len(tensor.data)} values"
            )
        sparse = pb.SparseCsr(
            values=bytes(_packed(_values(tensor), dtype, where)),
            crow_indices=bytes(_packed(crow, _INT64, where)),
            col_indices=bytes(_packed(col, _INT64, where)),
        )
        return pb.Tensor(sparse_csr=sparse, dtype=code, shape=shape)
    code, dense, shape = _dense(tensor, where)
    return pb.Tensor(dense=bytes(dense), dtype=code, shape=shape)


def _values(tensor: TensorData) -> Any:
    cached = tensor.cached_array()
    return cached if cached is not None else tensor.data


def _spans(spans: Sequence[Any] | None, where: str) -> list[pb.ProvenanceSpan]:
    out = []
    for span in spans or ():
        kind = type(span).__name__
        fields = {"sequence_id": span.sequence_id, "offset": span.offset, "length": span.length}
        if kind == "PromptProvenanceSpan":
            out.append(pb.ProvenanceSpan(prompt_tokens=pb.PromptProvenanceSpan(**fields)))
        elif kind == "SampledProvenanceSpan":
            out.append(pb.ProvenanceSpan(sampled_tokens=pb.SampledProvenanceSpan(**fields)))
        else:
            raise WireInputError(f"{where}: unknown provenance span {kind}")
    return out


def _datum(datum: Datum, index: int) -> pb.Datum:
    where = f"datum {index}"
    message = pb.Datum(
        model_input=[
            _chunk(c, f"{where}: model_input.chunks[{i}]")
            for i, c in enumerate(datum.model_input.chunks)
        ]
    )
    for key, tensor in datum.loss_fn_inputs.items():
        message.loss_fn_inputs[key].CopyFrom(_tensor(tensor, f"{where}: loss_fn_inputs[{key!r}]"))
    message.model_input_spans.extend(_spans(datum.model_input_spans, f"{where}: spans"))
    message.loss_fn_input_spans.extend(_spans(datum.loss_fn_input_spans, f"{where}: spans"))
    return message


def encode_forward_backward(
    *,
    model_id: str,
    seq_id: int,
    data: Sequence[Datum],
    loss_fn: str,
    loss_fn_config: Mapping[str, float | str] | None,
    forward_only: bool,
) -> pb.ForwardBackwardRequest:
    """The protobuf request of one forward(-backward) chunk; bad input raises
    :class:`WireInputError` naming the datum and field, before anything is sent.

    Example::

        message = encode_forward_backward(
            model_id="m", seq_id=1, data=[datum], loss_fn="cross_entropy",
            loss_fn_config=None, forward_only=False,
        )
    """
    message = _config_fields(loss_fn, loss_fn_config, forward_only)
    message.model_id = model_id
    message.seq_id = seq_id
    message.data.extend(_datum(d, i) for i, d in enumerate(data))
    return message


# ---------------------------------------------------------------------- the fast writer


def _varint(n: int) -> bytes:
    if 0 <= n < 0x80:
        return _SMALL_VARINTS[n]
    if 0 < n < 0x4000:  # lengths of tokens and tensors: two bytes
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    n &= (1 << 64) - 1  # negative int32/int64 values take ten bytes, as protobuf writes them
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL_VARINTS = [bytes((i,)) for i in range(0x80)]
_DENSE, _DTYPE, _SHAPE = b"\x0a", b"\x18", b"\x22"  # Tensor fields 1 (bytes), 3, 4 (packed)
_FIELD1, _FIELD2 = b"\x0a", b"\x12"  # length-delimited fields 1 and 2 (chunk, map entry...)
_DATA = b"\x1a"  # ForwardBackwardRequest.data (field 3)


def _tensor_parts(tensor: TensorData, where: str) -> list[Any]:
    """A dense tensor's message as byte pieces (what ``pb.Tensor`` would serialize to)."""
    code, dense, shape = _dense(tensor, where)
    head = _DENSE + _varint(len(dense))
    tail = _DTYPE + _varint(code)
    if shape:
        packed_shape = b"".join(_varint(d) for d in shape)
        tail += _SHAPE + _varint(len(packed_shape)) + packed_shape
    return [head, dense, tail]


def _datum_parts(datum: Datum, index: int) -> list[Any]:
    """One datum's message as byte pieces, without building message objects for text-only,
    dense datums (the training case); anything else through the compiled message."""
    chunks = datum.model_input.chunks
    simple = (
        not datum.model_input_spans
        and not datum.loss_fn_input_spans
        and all(type(c) is EncodedTextChunk for c in chunks)
        and all(
            t.sparse_crow_indices is None and t.sparse_col_indices is None and key
            for key, t in datum.loss_fn_inputs.items()
        )
    )
    if not simple:
        return [_datum(datum, index).SerializeToString(deterministic=True)]
    where = f"datum {index}"
    # Small headers are joined into one piece each: the pieces are bytes, and views of the
    # tensors' own arrays (the large values, never copied here).
    parts: list[Any] = []
    for i, chunk in enumerate(chunks):
        text_chunk = cast(EncodedTextChunk, chunk)
        tokens = text_chunk.packed_tokens()
        if tokens is None:
            tokens = _tokens(text_chunk.tokens, f"{where}: model_input.chunks[{i}]")
        else:  # packed when the chunk was made; checked as _tokens checks what it packs
            check_packed(tokens, _INT32, f"{where}: model_input.chunks[{i}]", tokens=True)
        text = _FIELD1 + _varint(len(tokens)) if tokens else b""  # EncodedTextChunk.tokens
        inner = len(text) + len(tokens)
        encoded = _FIELD1 + _varint(inner)  # Chunk { encoded_text = 1 }
        parts += [_FIELD1 + _varint(len(encoded) + inner) + encoded + text, tokens]
    inputs = datum.loss_fn_inputs
    for key in sorted(inputs):  # map entries in key order, as deterministic output
        head, dense, tail = _tensor_parts(inputs[key], f"{where}: loss_fn_inputs[{key!r}]")
        name = key.encode()
        tensor_len = len(head) + len(dense) + len(tail)
        entry = _FIELD1 + _varint(len(name)) + name + _FIELD2 + _varint(tensor_len)
        entry_len = len(entry) + tensor_len
        parts += [_FIELD2 + _varint(entry_len) + entry + head, dense, tail]
    return parts


def _config_fields(
    loss_fn: str, loss_fn_config: Mapping[str, float | str] | None, forward_only: bool
) -> pb.ForwardBackwardRequest:
    message = pb.ForwardBackwardRequest(loss_fn=loss_fn, forward_only=forward_only)
    for key, value in (loss_fn_config or {}).items():
        if isinstance(value, str):
            message.loss_fn_config_v2[key].text = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            message.loss_fn_config[key] = float(value)
            message.loss_fn_config_v2[key].number = float(value)
        else:
            raise WireInputError(
                f"loss_fn_config[{key!r}]: expected a number or a string, got {type(value).__name__}"
            )
    return message


class EncodedForwardBackward:
    """A ``ForwardBackwardRequest`` serialized but for its ``seq_id``, given when it is sent.

    The bytes are what the compiled message would serialize to deterministically (fields in
    number order; each piece below serializes fields the others leave unset)."""

    __slots__ = ("_head", "_tail")

    def __init__(self, head: bytes, tail: Sequence[Any]) -> None:
        # The tail stays in pieces (bytes, and views of the tensors' arrays) until it is sent:
        # joining it here too would copy a multi-megabyte body twice.
        self._head, self._tail = head, tail

    def with_seq_id(self, seq_id: int) -> bytes:
        seq = pb.ForwardBackwardRequest(seq_id=seq_id).SerializeToString()
        return b"".join((self._head, seq, *self._tail))


def encode_forward_backward_bytes(
    *,
    model_id: str,
    data: Sequence[Datum],
    loss_fn: str,
    loss_fn_config: Mapping[str, float | str] | None,
    forward_only: bool,
) -> EncodedForwardBackward:
    """:func:`encode_forward_backward` straight to bytes, the sequence id left for later: token
    ids and tensors are packed without a message object per datum.

    Example::

        body = encode_forward_backward_bytes(
            model_id="m", data=[datum], loss_fn="cross_entropy", loss_fn_config=None,
            forward_only=False,
        ).with_seq_id(3)
    """
    tail = [
        _config_fields(loss_fn, loss_fn_config, forward_only).SerializeToString(deterministic=True)
    ]
    parts: list[Any] = []
    for i, datum in enumerate(data):
        datum_parts = _datum_parts(datum, i)
        parts += [_DATA, _varint(sum(map(len, datum_parts))), *datum_parts]
    head = pb.ForwardBackwardRequest(model_id=model_id).SerializeToString()
    return EncodedForwardBackward(head, [*parts, *tail])


# ---------------------------------------------------------------------- decoding


def _array(data: bytes, dtype: int, where: str) -> np.ndarray[Any, Any]:
    """Numbers of a wire dtype, widened to the public dtypes (float32, int64)."""
    if dtype == pb.DTYPE_FLOAT32:
        return np.frombuffer(data, dtype=_FLOAT32)
    if dtype == pb.DTYPE_INT64:
        return np.frombuffer(data, dtype=_INT64)
    if dtype == pb.DTYPE_INT32:
        return np.frombuffer(data, dtype=_INT32).astype(_INT64)
    if dtype == pb.DTYPE_BFLOAT16:
        # bf16 is the top half of a float32: shift it back into place.
        return (np.frombuffer(data, dtype="<u2").astype("<u4") << 16).view(_FLOAT32)
    raise ValueError(f"{where}: unknown dtype {dtype}")


def _public_dtype(array: np.ndarray[Any, Any]) -> TensorDtype:
    return "float32" if array.dtype.kind == "f" else "int64"


def _tensor_data(array: np.ndarray[Any, Any], shape: list[int]) -> TensorData:
    return TensorData.from_array(array, _public_dtype(array), shape)


def _decode_tensor(tensor: pb.Tensor, where: str) -> TensorData:
    shape = list(tensor.shape)
    if tensor.WhichOneof("encoding") == "sparse_csr":
        csr = tensor.sparse_csr
        values = _array(csr.values, tensor.dtype, where)
        out = _tensor_data(values, shape)
        out.sparse_crow_indices = np.frombuffer(csr.crow_indices, dtype=_INT64).tolist()
        out.sparse_col_indices = np.frombuffer(csr.col_indices, dtype=_INT64).tolist()
        return out
    values = _array(tensor.dense, tensor.dtype, where)
    if shape and math.prod(shape) != values.size:
        raise ValueError(f"{where}: shape {shape} does not hold {values.size} values")
    return _tensor_data(values, shape or [values.size])


def _record_datums(record: pb.ArrayRecord, where: str) -> list[dict[str, TensorData]]:
    count = record.num_datums
    if count == 0 and record.fields:
        first = next(iter(record.fields.values()))
        count = max(len(first.offsets) // 8 - 1, 0)
    datums: list[dict[str, TensorData]] = [{} for _ in range(count)]
    for name, batched in record.fields.items():
        here = f"{where}.fields[{name!r}]"
        values = _array(batched.data, batched.dtype, here)
        offsets = np.frombuffer(batched.offsets, dtype=_INT64)
        if len(offsets) != count + 1:
            raise ValueError(f"{here}: {len(offsets)} offsets for {count} datums")
        # Offsets count bytes of the wire dtype, before any widening.
        wire_size = _WIRE_SIZES.get(batched.dtype, 4)
        bounds = offsets // wire_size
        if (
            np.any(offsets % wire_size)
            or bounds[0] != 0
            or bounds[-1] != values.size
            or np.any(np.diff(bounds) < 0)
        ):
            raise ValueError(f"{here}: offsets do not tile {values.size} values")
        trailing = list(batched.trailing_shape)
        inner = math.prod(trailing) if trailing else 1
        for i in range(count):
            part = values[bounds[i] : bounds[i + 1]]
            if inner and part.size % inner:
                raise ValueError(f"{here}: datum {i} does not divide into {trailing}")
            datums[i][name] = _tensor_data(part, [part.size // inner if inner else 0, *trailing])
    return datums


def decode_forward_backward_output(content: bytes) -> ForwardBackwardOutput:
    """A ``ForwardBackwardOutput`` from its protobuf bytes (per-datum outputs as numpy-backed
    tensors).

    Example::

        output = decode_forward_backward_output(response.content)
        output.loss_fn_outputs[0]["logprobs"].to_numpy()
    """
    message = pb.ForwardBackwardOutput.FromString(content)
    outputs: list[dict[str, TensorData]] = []
    for i, record in enumerate(message.loss_fn_outputs):
        outputs.extend(_record_datums(record, f"loss_fn_outputs[{i}]"))
    kind = message.loss_fn_output_type.rsplit(":", 1)[-1] or "ArrayRecord"
    return ForwardBackwardOutput.model_construct(
        loss_fn_output_type=kind, loss_fn_outputs=outputs, metrics=dict(message.metrics)
    )


def _topk(topk: pb.TopkLogprobs, where: str) -> list[list[list[int | float]] | None] | None:
    if topk.length == 0:
        return None
    k, length = topk.k, topk.length
    ids = np.frombuffer(topk.token_ids, dtype=_INT32)
    logprobs = np.frombuffer(topk.logprobs, dtype=_FLOAT32)
    if ids.size != k * length or logprobs.size != k * length:
        raise ValueError(f"{where}: expected {length} x {k} entries, got {ids.size}")
    rows: list[list[list[int | float]] | None] = []
    for id_row, lp_row in zip(
        ids.reshape(length, k).tolist(), logprobs.reshape(length, k).tolist(), strict=True
    ):
        pairs: list[list[int | float]] = [[t, lp] for t, lp in zip(id_row, lp_row, strict=True)]
        while pairs and pairs[-1][0] == 0 and pairs[-1][1] == _MASK_LOGPROB:
            pairs.pop()  # empty slots at the end
        rows.append(pairs or None)
    return rows


def _sequence(sequence: pb.SampledSequence, where: str) -> SampledSequence:
    tokens = np.frombuffer(sequence.tokens, dtype=_INT32)
    logprobs = (
        np.frombuffer(sequence.logprobs, dtype=_FLOAT32) if sequence.HasField("logprobs") else None
    )
    topk = (
        _topk(sequence.topk_sampled_logprobs, f"{where}.topk_sampled_logprobs")
        if sequence.HasField("topk_sampled_logprobs")
        else None
    )
    out = SampledSequence.model_construct(
        stop_reason=_STOP_REASONS.get(sequence.stop_reason, "stop"),
        tokens=tokens.tolist(),
        logprobs=logprobs.tolist() if logprobs is not None else None,
        topk_logprobs=topk,
        sequence_id=None,
    )
    out.keep_arrays(tokens, logprobs)
    return out


def decode_sample_response(content: bytes) -> SampleResponse:
    """A ``SampleResponse`` from its protobuf bytes.

    Example::

        response = decode_sample_response(reply.content)
        response.sequences[0].tokens
    """
    message = pb.SampleResponse.FromString(content)
    prompt_logprobs: list[float | None] | None = None
    if message.HasField("prompt_logprobs"):
        values = np.frombuffer(message.prompt_logprobs, dtype=_FLOAT32).tolist()
        prompt_logprobs = [None if math.isnan(v) else v for v in values]
    alt = None
    if message.HasField("prompt_alt_tokens"):
        alt = {
            "tokens": _decode_tensor(message.prompt_alt_tokens.tokens, "prompt_alt_tokens"),
            "logprobs": _decode_tensor(message.prompt_alt_tokens.logprobs, "prompt_alt_tokens"),
        }
    return SampleResponse.model_validate(
        {
            "sequences": [_sequence(s, f"sequences[{i}]") for i, s in enumerate(message.sequences)],
            "prompt_logprobs": prompt_logprobs,
            "topk_prompt_logprobs": _topk(message.topk_prompt_logprobs, "topk_prompt_logprobs")
            if message.HasField("topk_prompt_logprobs")
            else None,
            "target_prompt_logprobs": _decode_tensor(
                message.target_prompt_logprobs, "target_prompt_logprobs"
            )
            if message.HasField("target_prompt_logprobs")
            else None,
            "prompt_cache_hit_tokens": message.prompt_cache_hit_tokens,
            "prompt_alt_tokens": alt,
        }
    )
