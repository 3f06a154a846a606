"""The loss of a built-in loss function, computed here when the server does not send it.

A Tinker server reports ``loss:sum`` in a forward/backward output's metrics; skyrl-tx (the local
backend) answers ``metrics == {}``. The per-token logprobs it does return, with the inputs the
caller sent, are enough to compute the loss exactly for the losses whose formula depends on
nothing else:

- ``cross_entropy``: ``-sum(weights * logprobs)``;
- ``importance_sampling``: ``-sum(weights * exp(logprobs - sampler_logprobs) * advantages)``;
- ``ppo``: ``-sum(weights * min(ratio * advantages, clip(ratio, low, high) * advantages))``,
  ``low``/``high`` from ``loss_fn_config`` (``clip_low_threshold`` 0.8, ``clip_high_threshold``
  1.2 by default).

``weights`` default to ones when absent (what skyrl-tx does; the hosted service's RL losses
take no weights). The other losses (``cispo``, ``dro``, ``gspo``, ``stable_reinforce``,
``custom``) depend on server-side settings or state, so nothing is computed for them; neither for
a datum whose tensors do not line up, nor for per-token clip thresholds.

What is added: ``loss:sum``, ``loss:mean`` (per weighted token: ``loss:sum / sum(weights)``,
when the weights sum to more than zero) and ``loss:client_computed = 1.0``, the mark that says
where they came from. Keys the server sent are never replaced, and nothing is computed when it
sent ``loss:sum``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .types import Datum, ForwardBackwardOutput, TensorData

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CLIENT_COMPUTED_KEY", "add_client_loss", "client_loss", "with_client_loss"]

CLIENT_COMPUTED_KEY = "loss:client_computed"
_COMPUTABLE = frozenset({"cross_entropy", "importance_sampling", "ppo"})


def _flat(tensor: TensorData) -> np.ndarray[Any, Any]:
    import numpy as np  # loaded with the first result, not with tinkex

    cached = tensor.cached_array()  # decoded protobuf results and packed inputs: no copy
    if cached is not None:
        return np.asarray(cached, dtype=np.float64)
    if tensor.sparse_crow_indices is not None:
        return np.asarray(tensor.to_numpy(), dtype=np.float64).ravel()
    return np.asarray(tensor.data, dtype=np.float64)  # a JSON result's list, read once


def _per_token_loss(
    loss_fn: str, logprobs: np.ndarray[Any, Any], inputs: Mapping[str, TensorData], clip: Any
) -> np.ndarray[Any, Any] | None:
    """The loss per token before weighting (``None`` when the inputs do not allow it)."""
    import numpy as np

    if loss_fn == "cross_entropy":
        return -logprobs
    if "logprobs" not in inputs or "advantages" not in inputs:
        return None
    sampler = _flat(inputs["logprobs"])
    advantages = _flat(inputs["advantages"])
    if sampler.shape != logprobs.shape or advantages.shape != logprobs.shape:
        return None
    ratio = np.exp(logprobs - sampler)
    loss: np.ndarray[Any, Any]
    if loss_fn == "importance_sampling":
        loss = -(ratio * advantages)
    else:
        low, high = clip
        loss = -np.minimum(ratio * advantages, np.clip(ratio, low, high) * advantages)
    return loss


def _clip_range(loss_fn_config: Mapping[str, Any] | None) -> tuple[float, float] | None:
    config = loss_fn_config or {}
    try:
        return (
            float(config.get("clip_low_threshold", 0.8)),
            float(config.get("clip_high_threshold", 1.2)),
        )
    except (TypeError, ValueError):
        return None


def client_loss(
    output: ForwardBackwardOutput,
    data: Sequence[Datum],
    loss_fn: str,
    loss_fn_config: Mapping[str, Any] | None = None,
) -> dict[str, float] | None:
    """``loss:sum`` and ``loss:mean`` of ``output`` computed from its logprobs and ``data``.

    Args:
        output: the forward/backward output (one ``logprobs`` tensor per datum).
        data: the datums the call sent, in order.
        loss_fn: the built-in loss's name.
        loss_fn_config: the call's loss configuration (PPO's clip thresholds).

    Returns ``None`` when the loss cannot be computed exactly (see the module's docstring).

    Example::

        metrics = client_loss(fb.result(), data, "cross_entropy")  # {"loss:sum": ..., ...}
    """
    if loss_fn not in _COMPUTABLE or len(output.loss_fn_outputs) != len(data):
        return None
    import numpy as np

    clip = _clip_range(loss_fn_config) if loss_fn == "ppo" else None
    if loss_fn == "ppo" and clip is None:
        return None
    total = 0.0
    weight_total = 0.0
    for out, datum in zip(output.loss_fn_outputs, data, strict=True):
        inputs = datum.loss_fn_inputs
        produced = out.get("logprobs")
        if produced is None or "clip_low_threshold" in inputs or "clip_high_threshold" in inputs:
            return None
        logprobs = _flat(produced)
        per_token = _per_token_loss(loss_fn, logprobs, inputs, clip)
        if per_token is None:
            return None
        weights = inputs.get("weights")
        if weights is None:
            total += float(per_token.sum())
            weight_total += per_token.size
            continue
        w = _flat(weights)
        if w.shape != per_token.shape:
            return None
        total += float(np.dot(w, per_token))
        weight_total += float(w.sum())
    metrics = {"loss:sum": total, CLIENT_COMPUTED_KEY: 1.0}
    if weight_total > 0:
        metrics["loss:mean"] = total / weight_total
    return metrics


def add_client_loss(
    output: ForwardBackwardOutput,
    data: Sequence[Datum],
    loss_fn: str,
    loss_fn_config: Mapping[str, Any] | None = None,
) -> ForwardBackwardOutput:
    """``output`` with the client-computed loss added to its metrics when the server sent no
    ``loss:sum`` (see :func:`client_loss`); the server's metrics are kept as they are.

    Example::

        output = add_client_loss(output, data, "cross_entropy")
        output.metrics["loss:client_computed"]  # 1.0 when computed here
    """
    if "loss:sum" in output.metrics:
        return output
    computed = client_loss(output, data, loss_fn, loss_fn_config)
    if computed is not None:
        output.metrics = {**computed, **output.metrics}
    return output


async def with_client_loss(
    run: Callable[[], Awaitable[ForwardBackwardOutput]],
    data: Sequence[Datum],
    loss_fn: str,
    loss_fn_config: Mapping[str, Any] | None,
) -> ForwardBackwardOutput:
    """The output of ``run()``, through :func:`add_client_loss`. ``run`` is called here, so a
    coroutine of this function closed before it starts leaves no other coroutine unawaited."""
    return add_client_loss(await run(), data, loss_fn, loss_fn_config)
