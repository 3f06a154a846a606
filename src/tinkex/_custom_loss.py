"""``forward_backward_custom``: a loss computed client-side with torch, trained on the server.

1. A forward pass (``cross_entropy`` surrogate) returns each datum's logprobs.
2. The user's loss runs on those logprobs as torch tensors that require gradients.
3. A forward/backward pass with ``cross_entropy`` and ``weights = -dLoss/dlogprobs`` makes the
   server accumulate exactly the gradient of the user's loss.
The user's metrics are returned, with ``loss:sum`` replaced by the custom loss.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .types import Datum, ForwardBackwardOutput, ModelInput, TensorData
from .types._tensor import require

if TYPE_CHECKING:
    from ._training_client import CustomLossFn

# Sends chunks under seq ids from ``first`` on: (chunks, first, loss_fn, config, forward_only).
RunChunks = Callable[
    [list[list[Datum]], int, Any, dict[str, Any] | None, bool], Awaitable[ForwardBackwardOutput]
]
# Passes the turn of reserved seq ids that will not be sent: (first, count).
GiveUp = Callable[[int, int], Awaitable[None]]

__all__ = ["run_custom_loss", "surrogate_data"]


def _surrogate(datum: Datum, weights: list[float] | None = None) -> Datum:
    targets = datum.loss_fn_inputs.get("target_tokens")
    if targets is None:
        raise ValueError(
            "forward_backward_custom needs `target_tokens` in every datum's loss_fn_inputs"
        )
    count = len(targets.data)
    w = weights if weights is not None else [0.0] * count
    return Datum(
        model_input=ModelInput.model_validate(datum.model_input.model_dump()),
        loss_fn_inputs={
            "target_tokens": targets,
            "weights": TensorData(data=w, dtype="float32", shape=targets.shape),
        },
    )


def surrogate_data(data: list[Datum]) -> list[Datum]:
    return [_surrogate(d) for d in data]


async def run_custom_loss(
    run_chunks: RunChunks,
    data: list[Datum],
    loss_fn: CustomLossFn,
    chunks: list[list[Datum]],
    first: int,
    give_up: GiveUp,
) -> ForwardBackwardOutput:
    """Both passes use ids reserved when the user called: ``first`` .. ``first + 2n - 1``.

    If the forward pass or the user's loss fails, the backward pass's ids are given up (with
    ``give_up``), so that the client's later calls do not wait for them forever.
    """
    torch = require("torch")
    backward_first = first + len(chunks)
    try:
        forward = await run_chunks(chunks, first, "cross_entropy", None, True)
        logprobs = [
            torch.tensor(out["logprobs"].data, dtype=torch.float32, requires_grad=True)
            for out in forward.loss_fn_outputs
        ]
        loss, metrics = loss_fn(data, logprobs)
        loss.backward()
    except BaseException:
        await give_up(backward_first, len(chunks))
        raise
    grads: list[Any] = [
        (lp.grad if lp.grad is not None else torch.zeros_like(lp)) for lp in logprobs
    ]
    backward_data = [
        _surrogate(d, [-float(g) for g in grad.tolist()])
        for d, grad in zip(data, grads, strict=True)
    ]
    sizes = [len(c) for c in chunks]
    backward_chunks, at = [], 0
    for size in sizes:
        backward_chunks.append(backward_data[at : at + size])
        at += size
    result = await run_chunks(backward_chunks, backward_first, "cross_entropy", None, False)
    merged = dict(result.metrics)
    if "loss:sum" in merged:
        merged["surrogate_loss:sum"] = merged.pop("loss:sum")
    merged.update({k: float(v) for k, v in metrics.items()})
    merged["loss:sum"] = float(loss.detach())
    return ForwardBackwardOutput(
        loss_fn_output_type=forward.loss_fn_output_type,
        loss_fn_outputs=forward.loss_fn_outputs,
        metrics=merged,
    )
