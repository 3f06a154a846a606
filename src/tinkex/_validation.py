"""Arguments checked before anything is sent: a mistake fails at the call, naming the parameter.

Every check here is a small pure function that raises :class:`InvalidInputError` (a
``ValueError``) or :class:`InputTypeError` (a ``TypeError``), both in the SDK's error tree
(``SDKError``); the message names the parameter or field, the value and what is allowed. They
refuse only what the server would refuse or what is certainly a mistake (NaN, a negative token
id, ``num_samples=10**9``), so code written for the official SDK keeps working.

NaN and infinity never leave the client: a training tensor holding one is refused unless the call
says ``allow_nonfinite=True`` (``forward`` / ``forward_backward``); sampling and optimizer
parameters have no such opt-in (a NaN there has no meaning).

Training batches are the hot path (64 datums of 2,048 tokens): the per-datum checks here are
O(1) per tensor (keys, dtypes, lengths); the values are checked by :func:`check_packed` on the
bytes the protobuf writer packs anyway (one numpy pass each), or, for the JSON encoding (which
packs nothing), by :func:`check_datum_values`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
import re
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sdkgen.runtime import APIConnectionError, APIError, SDKError

if TYPE_CHECKING:
    from ._holder import Holder
    from .types import Datum, ModelInput, TensorData

__all__ = [
    "MAX_CHECKPOINT_NAME_LENGTH",
    "MAX_LORA_RANK",
    "MAX_NUM_SAMPLES",
    "MAX_SAMPLE_TOKENS",
    "InputTypeError",
    "InvalidInputError",
    "allowing_nonfinite",
    "check_checkpoint_id",
    "check_checkpoint_name",
    "check_context_length",
    "check_datum_values",
    "check_datums",
    "check_fits_context",
    "check_lora_rank",
    "check_optim_params",
    "check_packed",
    "check_prompt",
    "check_sample_args",
    "check_sampling_params",
]

# Upper bounds that only a mistake reaches (the server's own limits, where it reports them,
# are checked on top: max_context_length).
MAX_NUM_SAMPLES = 10_000
MAX_SAMPLE_TOKENS = 2**24  # 16.7M new tokens: beyond any model's context
MAX_LORA_RANK = 2**16  # beyond the hidden size of any model
MAX_CHECKPOINT_NAME_LENGTH = 255  # a file name on the server's storage
TOKEN_ID_LIMIT = 2**31  # token ids travel as int32
_FLOAT32_MAX = 3.4028234663852886e38

# Loss inputs that hold one value per input token (their first dimension is the input's length).
_PER_TOKEN = frozenset(
    {"target_tokens", "weights", "advantages", "logprobs", "mask", "sequence_ratio_mask"}
    | {"clip_low_threshold", "clip_high_threshold"}
)
# The inputs a server-side loss cannot run without: every built-in loss scores target tokens
# (the RL losses' logprobs and advantages are left to the server, which names what it misses).
_REQUIRED: dict[str, tuple[str, ...]] = dict.fromkeys(
    ("cross_entropy", "importance_sampling", "ppo", "cispo", "dro", "gspo", "stable_reinforce"),
    ("target_tokens",),
)
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
_CHECKPOINT_KINDS = ("weights", "sampler_weights", "external_weights")

# Set for the duration of a call that opted in (the protobuf writer checks values deep inside
# its packing; a flag here spares threading one argument through every layer of it).
_NONFINITE_ALLOWED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "tinkex_nonfinite_allowed", default=False
)


class InvalidInputError(SDKError, ValueError):
    """An argument has a value the API cannot take; nothing was sent. The message names the
    parameter (or field), the value and the allowed range."""


class InputTypeError(SDKError, TypeError, ValueError):
    """An argument has the wrong type; nothing was sent. The message names the parameter.

    Also a ``ValueError``: code written for the official SDK, whose pydantic models raise a
    ``ValidationError`` (a ``ValueError``) for a wrong type, catches it as it did."""


# ---------------------------------------------------------------------- scalars


def _int(value: Any, name: str, low: int, high: int | None = None) -> int:
    # numpy integers are ints here; floats, strings and None are not (no truncation). A bool
    # is an int to Python, so True is a wrong value (ValueError) rather than a wrong type.
    if isinstance(value, bool):
        raise InvalidInputError(f"{name} must be an int, not a bool, got {value!r}")
    if not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    number = int(value)
    if number < low or (high is not None and number > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise InvalidInputError(f"{name} must be {allowed}, got {value!r}")
    return number


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    return number


# ---------------------------------------------------------------------- sampling


def check_prompt(prompt: Any, name: str = "prompt", vocab_size: int | None = None) -> None:
    """Refuse a missing or empty prompt and token ids outside ``0 <= id < 2**31`` (and below
    ``vocab_size`` when the model's vocabulary is known).

    Args:
        prompt: a ``ModelInput`` (a mapping is checked by the model's own validation later).
        name: the parameter's name, for the message.
        vocab_size: the model's vocabulary size, or ``None`` when unknown.

    Example::

        check_prompt(ModelInput.from_ints([1, 2, 3]))
    """
    if isinstance(prompt, Mapping):
        return  # validated into a ModelInput by the request's model, which names its fields
    chunks = getattr(prompt, "chunks", None)
    if not isinstance(chunks, Sequence):
        raise InputTypeError(
            f"{name} must be a ModelInput (e.g. ModelInput.from_ints(tokens)), "
            f"got {type(prompt).__name__}"
        )
    high = min(TOKEN_ID_LIMIT, vocab_size) if vocab_size else TOKEN_ID_LIMIT
    empty = True
    for i, chunk in enumerate(chunks):
        tokens = getattr(chunk, "tokens", None)
        if tokens is None:
            empty = False  # an image or audio chunk
            continue
        if tokens:
            empty = False
            _check_token_range(tokens, f"{name}.chunks[{i}].tokens", high, vocab_size)
    if empty:
        raise InvalidInputError(f"{name} is empty: pass at least one token")


def _check_token_range(tokens: Sequence[Any], where: str, high: int, vocab: int | None) -> None:
    try:
        low_id, high_id = min(tokens), max(tokens)
    except TypeError:
        raise InputTypeError(f"{where}: token ids must be ints") from None
    if low_id < 0 or high_id >= high:
        bad = low_id if low_id < 0 else high_id
        limit = f"the vocabulary size {vocab}" if vocab and vocab < TOKEN_ID_LIMIT else "2**31"
        raise InvalidInputError(
            f"{where}: token id {bad} is out of range; ids must be >= 0 and below {limit}"
        )


def check_sampling_params(params: Any, name: str = "sampling_params") -> None:
    """Refuse sampling parameters the server cannot use: ``max_tokens`` 1..2**24 (or ``None``),
    ``temperature`` finite >= 0, ``0 < top_p <= 1``, ``top_k`` -1 (no limit) or >= 1.

    Example::

        check_sampling_params(SamplingParams(max_tokens=20, temperature=0.7))
    """
    from ._generated.models import SamplingParams

    if not isinstance(params, SamplingParams):
        raise InputTypeError(
            f"{name} must be a SamplingParams (e.g. SamplingParams(max_tokens=20)), "
            f"got {type(params).__name__}"
        )
    if params.max_tokens is not None:
        _int(params.max_tokens, f"{name}.max_tokens", 1, MAX_SAMPLE_TOKENS)
    if _real(params.temperature, f"{name}.temperature") < 0:
        raise InvalidInputError(f"{name}.temperature must be >= 0, got {params.temperature!r}")
    top_p = _real(params.top_p, f"{name}.top_p")
    if not 0 < top_p <= 1:
        raise InvalidInputError(f"{name}.top_p must be in (0, 1], got {params.top_p!r}")
    top_k = _int(params.top_k, f"{name}.top_k", -1, TOKEN_ID_LIMIT - 1)
    if top_k == 0:
        raise InvalidInputError(f"{name}.top_k must be -1 (no limit) or >= 1, got 0")
    if params.seed is not None:
        _int(params.seed, f"{name}.seed", 0, 2**64 - 1)


def check_sample_args(
    prompt: Any,
    num_samples: Any,
    sampling_params: Any,
    topk_prompt_logprobs: Any = 0,
    topk_sample_logprobs: Any = 0,
    prompt_alt_tokens_k: Any = 0,
    prompt_logprobs_last_n: Any = None,
    include_prompt_logprobs: bool = False,
) -> None:
    """The arguments of ``SamplingClient.sample`` (and ``sample_stream``), checked.

    Example::

        check_sample_args(ModelInput.from_ints([1, 2]), 4, SamplingParams(max_tokens=8))
    """
    check_prompt(prompt)
    _int(num_samples, "num_samples", 1, MAX_NUM_SAMPLES)
    check_sampling_params(sampling_params)
    for name, value in (
        ("topk_prompt_logprobs", topk_prompt_logprobs),
        ("topk_sample_logprobs", topk_sample_logprobs),
        ("prompt_alt_tokens_k", prompt_alt_tokens_k),
    ):
        _int(value, f"{name} (a top-k count)", 0, TOKEN_ID_LIMIT - 1)
    if prompt_logprobs_last_n is not None:
        _int(prompt_logprobs_last_n, "prompt_logprobs_last_n", 1)
        if not include_prompt_logprobs:
            raise InvalidInputError("prompt_logprobs_last_n needs include_prompt_logprobs=True")


def check_context_length(
    prompt_tokens: int, max_tokens: int | None, limit: int | None, model: str | None = None
) -> None:
    """Refuse a prompt that, with ``max_tokens`` new tokens, exceeds the model's context.

    Args:
        prompt_tokens: the prompt's length in tokens.
        max_tokens: the sampling parameter (``None``: only the prompt must fit).
        limit: the server's ``max_context_length`` for the model, ``None`` when unknown.
        model: the base model, for the message.

    Example::

        check_context_length(1000, 100, 32768, "Qwen/Qwen3-8B")
    """
    if limit is None:
        return
    total = prompt_tokens + (max_tokens or 0)
    if total > limit:
        of = f" of {model}" if model else ""
        raise InvalidInputError(
            f"prompt ({prompt_tokens} tokens) + sampling_params.max_tokens ({max_tokens or 0}) "
            f"= {total} exceeds the max_context_length{of}, {limit}; shorten the prompt or "
            "lower max_tokens"
        )


# Per holder: the context length of each model the server lists (empty when it cannot say).
_CONTEXT_LIMITS: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


async def check_fits_context(
    holder: Holder, base_model: str | None, prompt_tokens: int, max_tokens: int | None
) -> None:
    """:func:`check_context_length` against the server's ``max_context_length`` for
    ``base_model``, read from its capabilities (fetched once per client; a server that answers
    without them is not asked again, and nothing is refused; an unreachable one raises).

    Example::

        await check_fits_context(holder, "Qwen/Qwen3-8B", prompt_tokens=1000, max_tokens=100)
    """
    if base_model is None:
        return
    limits = _CONTEXT_LIMITS.get(holder)
    if limits is None:
        try:
            caps = await holder.features.capabilities()
        except APIConnectionError:
            raise  # unreachable: the sample could not be sent either (asked again next time)
        except APIError:  # it answered, without capabilities: it cannot say
            limits = {}
        else:
            limits = {
                m.model_name: m.max_context_length
                for m in caps.supported_models
                if m.model_name and m.max_context_length
            }
        _CONTEXT_LIMITS[holder] = limits
    check_context_length(prompt_tokens, max_tokens, limits.get(base_model), base_model)


# ---------------------------------------------------------------------- training


def check_optim_params(params: Any) -> None:
    """Refuse optimizer hyper-parameters no step should use: a learning rate that is not a
    finite number >= 0, betas outside [0, 1), ``eps`` <= 0, a negative weight decay, NaN or inf.

    Example::

        check_optim_params(AdamParams(learning_rate=1e-4))
    """
    from ._generated.models import AdamParams, DimuonParams

    if isinstance(params, AdamParams):
        name = "AdamParams"
    elif isinstance(params, DimuonParams):
        name = "DimuonParams"
    else:
        return  # the caller says which types it takes
    if _real(params.learning_rate, f"{name}.learning_rate") < 0:
        raise InvalidInputError(f"{name}.learning_rate must be >= 0, got {params.learning_rate!r}")
    _real(params.grad_clip_norm, f"{name}.grad_clip_norm")  # <= 0 disables clipping
    betas = ("beta1", "beta2") if name == "AdamParams" else ("beta1",)
    for beta in betas:
        value = _real(getattr(params, beta), f"{name}.{beta}")
        if not 0 <= value < 1:
            raise InvalidInputError(f"{name}.{beta} must be in [0, 1), got {value!r}")
    if isinstance(params, AdamParams):
        if _real(params.eps, "AdamParams.eps") <= 0:
            raise InvalidInputError(f"AdamParams.eps must be > 0, got {params.eps!r}")
        if _real(params.weight_decay, "AdamParams.weight_decay") < 0:
            raise InvalidInputError(
                f"AdamParams.weight_decay must be >= 0, got {params.weight_decay!r}"
            )


def check_lora_rank(rank: Any, limit: int | None = None) -> None:
    """Refuse a LoRA rank that is not an int in 1..``limit`` (the server's limit when it
    reports one, else 65,536).

    Example::

        check_lora_rank(32)
    """
    high = min(limit, MAX_LORA_RANK) if limit else MAX_LORA_RANK
    try:
        _int(rank, "rank", 1, high)
    except (InvalidInputError, InputTypeError) as err:
        # One message for every wrong rank, saying what a right one is.
        raise type(err)(f"rank must be a positive integer up to {high}, got {rank!r}") from None


def check_checkpoint_name(name: Any, param: str = "name") -> None:
    """Refuse a checkpoint name that is not a plain file name: letters, digits, ``-``, ``_``
    and ``.``, not starting with ``.``, 1..255 characters (no ``/``, no ``..``).

    Example::

        check_checkpoint_name("step-000100")
    """
    if not isinstance(name, str):
        raise InputTypeError(f"{param} must be a str, got {type(name).__name__} {name!r}")
    if not name or len(name) > MAX_CHECKPOINT_NAME_LENGTH or not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"{param} {name!r} is not a valid checkpoint name: use 1 to "
            f"{MAX_CHECKPOINT_NAME_LENGTH} letters, digits, '-', '_' or '.', not starting "
            "with '.' (e.g. 'step-000100')"
        )


def check_checkpoint_id(checkpoint_id: Any, param: str = "checkpoint_id") -> None:
    """Refuse a checkpoint id that is not ``<kind>/<name>`` (kind ``weights``,
    ``sampler_weights`` or ``external_weights``; name as :func:`check_checkpoint_name`).

    Example::

        check_checkpoint_id("weights/step-000100")
    """
    if not isinstance(checkpoint_id, str):
        raise InputTypeError(f"{param} must be a str, got {type(checkpoint_id).__name__}")
    kind, _, name = checkpoint_id.partition("/")
    if kind not in _CHECKPOINT_KINDS:
        raise InvalidInputError(
            f"{param} {checkpoint_id!r} must look like 'weights/<name>', "
            "'sampler_weights/<name>' or 'external_weights/<name>'"
        )
    check_checkpoint_name(name, f"{param} {checkpoint_id!r}: the name")


# ---------------------------------------------------------------------- datums


def check_datums(
    datums: Sequence[Datum], loss_fn: Any, loss_fn_config: Mapping[str, Any] | None = None
) -> None:
    """Refuse training data a loss cannot use: inputs the loss needs missing, per-token inputs
    whose length differs from the model input's, target tokens that are not integers, and a
    ``loss_fn_config`` number that is NaN or infinite (unless the call allows it).

    O(1) per tensor (keys, dtypes, lengths); values are checked where they are packed
    (:func:`check_packed`) or by :func:`check_datum_values`.

    Example::

        check_datums([datum], "cross_entropy", {"clip": 0.2})
    """
    for key, value in (loss_fn_config or {}).items():
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if number and not math.isfinite(value) and not _NONFINITE_ALLOWED.get():
            raise InvalidInputError(
                f"loss_fn_config[{key!r}] must be a finite number, got {value!r} (NaN and "
                "infinity are not sent unless the call passes allow_nonfinite=True)"
            )
    required = _REQUIRED.get(loss_fn, ()) if isinstance(loss_fn, str) else ()
    for i, datum in enumerate(datums):
        inputs = datum.loss_fn_inputs
        missing = [key for key in required if key not in inputs]
        if missing:
            raise InvalidInputError(
                f"datum {i}: loss {loss_fn!r} needs loss_fn_inputs {list(required)}; "
                f"missing {missing}"
            )
        length = _input_length(datum.model_input)
        for key, tensor in inputs.items():
            where = f"datum {i}: loss_fn_inputs[{key!r}]"
            if key == "target_tokens" and (tensor.dtype != "int64" or _holds_floats(tensor)):
                raise InvalidInputError(
                    f"{where} must hold integer token ids (int64), got {tensor.dtype} values "
                    "(from a float array? cast it with .astype(int))"
                )
            if length is None or key not in _PER_TOKEN:
                continue
            first = tensor.shape[0] if tensor.shape else len(tensor.data)
            if first != length:
                raise InvalidInputError(
                    f"{where} has {first} entries but the model input has {length} tokens; "
                    "they must be the same length"
                )


def _holds_floats(tensor: TensorData) -> bool:
    # A kept array answers without making ``data`` (from_list keeps int64 values packed only).
    kept = tensor.cached_array()
    if kept is not None:
        return bool(kept.size) and kept.dtype.kind == "f"
    return bool(tensor.data) and isinstance(tensor.data[0], float)


def _input_length(model_input: ModelInput) -> int | None:
    try:
        return model_input.length
    except ValueError:  # an image chunk without expected_tokens: the server counts it
        return None


def check_datum_values(datums: Sequence[Datum]) -> None:
    """The values of training data, for an encoding that packs nothing (JSON): token ids in
    ``0 <= id < 2**31``, float inputs finite unless the call allows non-finite values.

    Example::

        check_datum_values([datum])
    """
    import numpy as np

    from .types import EncodedTextChunk

    int32 = np.dtype("<i4")
    for i, datum in enumerate(datums):
        for c, chunk in enumerate(datum.model_input.chunks):
            tokens = getattr(chunk, "tokens", None)
            if tokens:
                where = f"datum {i}: model_input.chunks[{c}].tokens"
                packed = chunk.packed_tokens() if isinstance(chunk, EncodedTextChunk) else None
                if packed is not None:  # packed as int32 when made: one numpy pass for the sign
                    check_packed(packed, int32, where, tokens=True)
                else:
                    _check_token_range(tokens, where, TOKEN_ID_LIMIT, None)
        for key, tensor in datum.loss_fn_inputs.items():
            if tensor.dtype == "float32" and tensor.data:
                cached = tensor.cached_array()
                values = cached if cached is not None else np.asarray(tensor.data, np.float64)
                where = f"datum {i}: loss_fn_inputs[{key!r}]"
                _check_finite(values, where)
                if values.dtype != np.float32 and (
                    np.abs(values[np.isfinite(values)]).max(initial=0.0) > _FLOAT32_MAX
                ):  # (values already held as float32 fit by construction)
                    raise InvalidInputError(f"{where} holds values beyond float32's range")


def check_packed(packed: Any, dtype: Any, where: str, *, tokens: bool = False) -> None:
    """Check values as the protobuf writer packed them (one numpy pass, no copy): floats
    finite (unless the call allows non-finite values), token ids not negative.

    Args:
        packed: the little-endian bytes (or a memoryview of them).
        dtype: their numpy dtype.
        where: the datum and field, for the message.
        tokens: the values are token ids.

    Example::

        check_packed(struct.pack("<2f", 1.0, 0.5), np.dtype("<f4"), "datum 0: weights")
    """
    import numpy as np

    if not tokens and np.dtype(dtype).kind != "f":
        return  # integers other than token ids (target tokens) have no range to hold
    values = np.frombuffer(packed, dtype=dtype)
    if not values.size:
        return
    if values.dtype.kind == "f":
        _check_finite(values, where)
    elif tokens and values.min() < 0:
        raise InvalidInputError(
            f"{where}: token id {int(values.min())} is negative; ids must be >= 0 and below 2**31"
        )


def _check_finite(values: Any, where: str) -> None:
    import numpy as np

    if _NONFINITE_ALLOWED.get():
        return
    finite = np.isfinite(values)  # one pass; no warning for inf - inf, unlike a sum
    if finite.all():
        return
    bad = values[~finite]
    raise InvalidInputError(
        f"{where} holds {bad.size} non-finite value(s) (e.g. {float(bad[0])}); NaN and infinity "
        "are not sent unless the call passes allow_nonfinite=True"
    )


@contextlib.contextmanager
def allowing_nonfinite(allow: bool) -> Iterator[None]:
    """While open, the value checks let NaN and infinity through when ``allow`` is true (the
    ``allow_nonfinite`` opt-in of one ``forward`` / ``forward_backward`` call).

    Example::

        with allowing_nonfinite(True):
            bodies = wire.encode(chunks, "cross_entropy", None, forward_only=False)
    """
    token = _NONFINITE_ALLOWED.set(bool(allow))
    try:
        yield
    finally:
        _NONFINITE_ALLOWED.reset(token)
