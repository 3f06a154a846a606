"""What a regularizer is, the error it raises, and the per-datum inputs the built-ins share.

A regularizer sees exactly what a ``forward_backward_custom`` loss sees: the batch and one 1-D
logprob tensor per datum (the model's logprob of each target token, requiring grad). The model's
weights and its full next-token distributions stay on the server, so every penalty here is a
function of those logprobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from sdkgen.runtime import SDKError

from ..types import Datum
from ..types._tensor import require

if TYPE_CHECKING:
    import torch

__all__ = [
    "ReferenceFn",
    "Regularizer",
    "RegularizerError",
    "per_datum_input",
    "selected_logprobs",
    "token_mask",
]

#: ``reference(data)``: one sequence (list or tensor) of values per datum.
ReferenceFn: TypeAlias = "Callable[[list[Datum]], Sequence[Any]]"


class Regularizer(Protocol):
    """``regularizer(data, logprobs)``: a penalty on the model's logprobs, as a scalar tensor.

    Arguments are those of a ``forward_backward_custom`` loss: ``data`` (the batch, ``list[Datum]``)
    and ``logprobs`` (one 1-D float tensor per datum, the logprob of each target token,
    requiring grad). It returns a 0-d tensor computed from ``logprobs`` (so that it has a
    gradient), or ``(tensor, metrics)`` with ``metrics`` a mapping of names to numbers.
    A plain function qualifies; a ``name`` attribute, if any, names it in the metrics.

    Example::

        def mean_logprob(data, logprobs):
            return -torch_.cat(logprobs).mean()
    """

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor], /) -> Any: ...


class RegularizerError(SDKError, ValueError):
    """A regularizer (or the base loss) gave something the pipeline cannot use; ``name`` says which.

    Raised from the step's future (``forward_backward_custom(...).result()``); nothing was sent
    for the backward pass.
    """

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"regularizer {name!r}: {message}")
        self.name = name


def token_mask(datum: Datum, count: int, name: str) -> torch.Tensor:
    """Which of a datum's ``count`` positions count: those whose ``weights`` entry is not 0.

    Prompt tokens carry weight 0 in a next-token datum, so penalties leave them out as the
    cross-entropy does. A datum without ``weights`` counts every position.
    """
    torch_ = require("torch")
    weights = datum.loss_fn_inputs.get("weights")
    if weights is None:
        ones: torch.Tensor = torch_.ones(count, dtype=torch_.bool)
        return ones
    values = torch_.tensor(weights.tolist(), dtype=torch_.float32).reshape(-1)
    if values.numel() != count:
        raise RegularizerError(
            name,
            f"loss_fn_inputs['weights'] has {values.numel()} entries but the datum has "
            f"{count} logprobs: give one weight per target token",
        )
    mask: torch.Tensor = values != 0
    return mask


def selected_logprobs(
    data: Sequence[Datum], logprobs: Sequence[torch.Tensor], name: str
) -> list[torch.Tensor]:
    """Each datum's logprobs at the positions that count (see :func:`token_mask`)."""
    if len(data) != len(logprobs):
        raise RegularizerError(
            name, f"got {len(data)} datums but {len(logprobs)} logprob tensors: pass one per datum"
        )
    out = []
    for datum, lp in zip(data, logprobs, strict=True):
        if lp.dim() != 1:
            raise RegularizerError(
                name, f"expected 1-D logprob tensors, got shape {tuple(lp.shape)}"
            )
        out.append(lp[token_mask(datum, lp.numel(), name)])
    return out


def per_datum_input(
    data: Sequence[Datum],
    logprobs: Sequence[torch.Tensor],
    name: str,
    *,
    key: str,
    reference: ReferenceFn | None = None,
) -> list[torch.Tensor]:
    """Per-datum values aligned with the logprobs: from ``reference(data)`` or ``loss_fn_inputs[key]``.

    Returned at the positions that count (as :func:`selected_logprobs`), as float tensors
    without grad.
    """
    torch_ = require("torch")
    if reference is not None:
        given = list(reference(list(data)))
        if len(given) != len(data):
            raise RegularizerError(
                name, f"reference gave {len(given)} sequences for {len(data)} datums"
            )
        where = "the reference"
    else:
        given = []
        for i, datum in enumerate(data):
            value = datum.loss_fn_inputs.get(key)
            if value is None:
                raise RegularizerError(
                    name,
                    f"datum {i} has no loss_fn_inputs[{key!r}]: add it (one value per target "
                    "token) or pass reference=",
                )
            given.append(value.tolist())
        where = f"loss_fn_inputs[{key!r}]"
    out = []
    for i, (datum, lp, values) in enumerate(zip(data, logprobs, given, strict=True)):
        if isinstance(values, torch_.Tensor):
            tensor = values.detach().to(dtype=lp.dtype).reshape(-1)
        else:
            tensor = torch_.tensor(values, dtype=lp.dtype).reshape(-1)
        if tensor.numel() != lp.numel():
            raise RegularizerError(
                name,
                f"datum {i}: {where} has {tensor.numel()} values but the datum has "
                f"{lp.numel()} logprobs: give one per target token",
            )
        out.append(tensor[token_mask(datum, lp.numel(), name)])
    return out
