"""``loss = base_loss + sum(weight_i * regularizer_i)``, as a ``forward_backward_custom`` loss.

The pipeline calls each regularizer on the batch and the logprobs, checks what it returned
(a finite 0-d tensor with a gradient), adds the weighted terms to the base loss and reports
every term in the step's metrics. With ``track_grad_norms`` it also reports each term's
gradient norm with respect to the logprobs: how hard each term pulls, before the server turns
the summed gradient into the cross-entropy surrogate's weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..types import Datum
from ..types._tensor import require
from ._protocol import Regularizer, RegularizerError

if TYPE_CHECKING:
    import torch

__all__ = ["BASE_NAME", "Pipeline", "Term", "cross_entropy"]

#: The name under which the base loss is reported (``base_loss:value``) and named in errors.
BASE_NAME = "base_loss"

BaseLoss = Callable[[list[Datum], list[Any]], Any]


def cross_entropy(data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
    """The server's ``cross_entropy`` loss, computed here: ``-sum(weights * logprobs)``.

    A datum without ``weights`` weighs every target token 1. Use it as a pipeline's base loss
    to regularize plain supervised training.

    Example::

        Pipeline(cross_entropy, [Term(L2(), weight=0.01)])
    """
    torch_ = require("torch")
    total: torch.Tensor = torch_.zeros(())
    for datum, lp in zip(data, logprobs, strict=True):
        weights = datum.loss_fn_inputs.get("weights")
        w = (
            torch_.ones_like(lp)
            if weights is None
            else torch_.tensor(weights.tolist(), dtype=lp.dtype).reshape(lp.shape)
        )
        total = total - (w * lp).sum()
    return total


def _name_of(regularizer: Regularizer) -> str:
    given = getattr(regularizer, "name", None)
    if isinstance(given, str) and given:
        return given
    return str(getattr(regularizer, "__name__", type(regularizer).__name__))


@dataclass(frozen=True)
class Term:
    """One ``weight * regularizer`` term of a :class:`Pipeline`.

    Args:
        regularizer: a :class:`Regularizer` (a built-in or any ``(data, logprobs)`` callable).
        weight: a finite number >= 0 (to reward a quantity, use the regularizer's own option,
            e.g. ``Entropy(mode="maximize")``).
        name: the name in metrics and errors; default the regularizer's ``name`` attribute,
            else its ``__name__``. Letters, digits, ``_``, ``-`` and ``.`` only.

    Example::

        Term(L2(), weight=0.01)
        Term(my_penalty, weight=0.5, name="length")
    """

    regularizer: Regularizer
    weight: float = 1.0
    name: str = field(default="")

    def __post_init__(self) -> None:
        name = self.name or _name_of(self.regularizer)
        object.__setattr__(self, "name", name)
        if not callable(self.regularizer):
            raise TypeError(
                f"regularizer {name!r}: expected a callable (data, logprobs) -> tensor, "
                f"got {type(self.regularizer).__name__}"
            )
        if not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
            raise ValueError(
                f"regularizer name {name!r}: use letters, digits, '_', '-' and '.' only "
                "(it becomes the metric key reg/<name>:value)"
            )
        weight = self.weight
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(
                f"regularizer {name!r}: weight must be a finite number >= 0, got {weight!r} "
                "(to reward a quantity instead of penalising it, use the regularizer's own "
                "option, e.g. Entropy(mode='maximize'))"
            )
        object.__setattr__(self, "weight", float(weight))


class Pipeline:
    """A ``forward_backward_custom`` loss: ``base_loss + sum(term.weight * term.regularizer)``.

    Called as ``pipeline(data, logprobs)`` it returns ``(loss, metrics)``, the shape
    ``forward_backward_custom`` wants; the step's metrics then hold, besides ``loss:sum`` (the
    total):

    * ``base_loss:value`` and the base loss's own metrics, unchanged;
    * per term ``reg/<name>:value`` (unweighted), ``reg/<name>:weighted`` (``weight * value``)
      and the regularizer's own metrics as ``reg/<name>/<metric>``;
    * with ``track_grad_norms=True`` (and logprobs that require grad), ``base_loss:grad_norm``
      and ``reg/<name>:grad_norm``: the L2 norm over the batch of the gradient of the base
      loss / of each weighted term with respect to the logprobs.

    A regularizer that returns something other than a finite 0-d tensor, or one without a
    gradient while the logprobs have one, raises :class:`RegularizerError` naming it.

    Scales: :func:`cross_entropy` sums over tokens, the built-in regularizers average over
    tokens; choose weights with that in mind (the gradient norms help compare the terms).

    Args:
        base_loss: ``(data, logprobs) -> tensor`` or ``(tensor, metrics)``, e.g.
            :func:`cross_entropy`.
        terms: the :class:`Term` s to add; their names must differ.
        track_grad_norms: also report each term's gradient norm (one extra backward pass
            through the graph per term).

    Example::

        from tinkex.regularizers import L2, Entropy, Pipeline, Term, cross_entropy

        loss_fn = Pipeline(
            cross_entropy,
            [Term(L2(), weight=0.01), Term(Entropy(mode="maximize"), weight=0.1)],
            track_grad_norms=True,
        )
        out = training.forward_backward_custom(data, loss_fn).result()
        print(out.metrics["reg/l2:weighted"], out.metrics["reg/entropy:grad_norm"])
    """

    def __init__(
        self, base_loss: BaseLoss, terms: Sequence[Term] = (), *, track_grad_norms: bool = False
    ) -> None:
        if not callable(base_loss):
            raise TypeError(f"base_loss must be a callable (data, logprobs), not {base_loss!r}")
        terms = list(terms)
        for term in terms:
            if not isinstance(term, Term):
                raise TypeError(
                    f"terms must be Term(regularizer, weight), got {type(term).__name__}"
                )
        names = [t.name for t in terms]
        repeated = sorted({n for n in names if names.count(n) > 1 or n == BASE_NAME})
        if repeated:
            raise ValueError(
                f"regularizer names must differ (and not be {BASE_NAME!r}): {repeated}; "
                "give each Term a name="
            )
        self.base_loss = base_loss
        self.terms: tuple[Term, ...] = tuple(terms)
        self.track_grad_norms = track_grad_norms

    def __call__(
        self, data: list[Datum], logprobs: list[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        needs_grad = any(lp.requires_grad for lp in logprobs)
        base, base_metrics = _evaluate(BASE_NAME, self.base_loss, data, logprobs, needs_grad)
        metrics: dict[str, float] = dict(base_metrics)
        metrics[f"{BASE_NAME}:value"] = float(base.detach())
        total = base
        weighted: list[tuple[str, torch.Tensor]] = [(BASE_NAME, base)]
        for term in self.terms:
            value, extra = _evaluate(term.name, term.regularizer, data, logprobs, needs_grad)
            contribution = term.weight * value
            total = total + contribution
            weighted.append((f"reg/{term.name}", contribution))
            metrics[f"reg/{term.name}:value"] = float(value.detach())
            metrics[f"reg/{term.name}:weighted"] = float(contribution.detach())
            metrics.update({f"reg/{term.name}/{k}": v for k, v in extra.items()})
        if self.track_grad_norms and needs_grad:
            for key, tensor in weighted:
                metrics[f"{key}:grad_norm"] = _grad_norm(tensor, logprobs)
        return total, metrics


def _evaluate(
    name: str,
    fn: Callable[[list[Datum], list[Any]], Any],
    data: list[Datum],
    logprobs: list[torch.Tensor],
    needs_grad: bool,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Call ``fn`` and check that it gave a finite scalar tensor (with a gradient, if needed)."""
    torch_ = require("torch")
    try:
        output = fn(data, logprobs)
    except Exception as error:
        error.add_note(f"raised by regularizer {name!r}")
        raise
    metrics: Mapping[str, Any] = {}
    if isinstance(output, tuple):
        if len(output) != 2 or not isinstance(output[1], Mapping):
            raise RegularizerError(
                name, "returned a tuple that is not (tensor, metrics): return one of the two forms"
            )
        output, metrics = output
    if not isinstance(output, torch_.Tensor):
        raise RegularizerError(
            name,
            f"returned {type(output).__name__}, not a torch tensor: compute the penalty from "
            "the logprobs tensors (not with floats or .item())",
        )
    if output.dim() != 0:
        raise RegularizerError(
            name,
            f"returned a tensor of shape {tuple(output.shape)}, not a scalar: reduce it "
            "(e.g. .mean() or .sum())",
        )
    if not bool(torch_.isfinite(output)):
        raise RegularizerError(
            name,
            f"returned {float(output.detach())}: the penalty must be finite (look for log(0), "
            "division by zero or -inf in its inputs, e.g. reference logprobs)",
        )
    if needs_grad and not output.requires_grad:
        raise RegularizerError(
            name,
            "returned a tensor without a gradient (requires_grad is False): compute it from "
            "the logprobs it is given, without .detach(), .item() or torch.tensor(...)",
        )
    checked: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            checked[str(key)] = float(value)
        except (TypeError, ValueError):
            raise RegularizerError(
                name, f"metric {key!r} is {value!r}, not a number: report numbers only"
            ) from None
    return output, checked


def _grad_norm(tensor: torch.Tensor, logprobs: list[torch.Tensor]) -> float:
    torch_ = require("torch")
    if not tensor.requires_grad:
        return 0.0
    grads = torch_.autograd.grad(tensor, logprobs, retain_graph=True, allow_unused=True)
    squared = sum(float(g.square().sum()) for g in grads if g is not None)
    return math.sqrt(squared)
