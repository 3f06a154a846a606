"""The eight built-in regularizers, each defined on what the client has: per-token logprobs.

The Elixir tinkex ships the same eight names. Where a name usually means a penalty on the
model's weights (L1, L2, elastic net, orthogonality) or on its full next-token distribution
(entropy), the weights and the distributions are on the server: these versions penalise the
logprobs of the target tokens, which is what ``forward_backward_custom`` can differentiate, and
each docstring says what that means. For weight decay use ``AdamParams(weight_decay=...)``.

Every built-in averages over the positions that count: those whose ``weights`` entry in
``loss_fn_inputs`` is not 0 (the prompt tokens of a next-token datum are left out).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from itertools import combinations
from typing import TYPE_CHECKING, Any, Literal

from ..types import Datum
from ..types._tensor import require
from ._protocol import ReferenceFn, RegularizerError, per_datum_input, selected_logprobs

if TYPE_CHECKING:
    import torch

__all__ = [
    "L1",
    "L2",
    "Consistency",
    "ElasticNet",
    "Entropy",
    "GradientPenalty",
    "KLDivergence",
    "Orthogonality",
]

Quantity = Literal["logprobs", "probs"]


def _token_mean(parts: Sequence[torch.Tensor], logprobs: Sequence[torch.Tensor]) -> torch.Tensor:
    """The mean over every counted position; 0 (still on the graph) when none counts."""
    torch_ = require("torch")
    values = torch_.cat(list(parts)) if parts else torch_.zeros(0)
    if values.numel() == 0:
        zero: torch.Tensor = sum((lp.sum() * 0.0 for lp in logprobs), torch_.zeros(()))
        return zero
    mean: torch.Tensor = values.mean()
    return mean


def _check_quantity(name: str, of: str) -> None:
    if of not in ("logprobs", "probs"):
        raise ValueError(f"{name}: of must be 'logprobs' or 'probs', not {of!r}")


def _quantity(parts: list[torch.Tensor], of: Quantity) -> list[torch.Tensor]:
    return [p.exp() for p in parts] if of == "probs" else parts


class L1:
    """The mean absolute value of the target tokens' logprobs (or probabilities).

    Penalises: with ``of="logprobs"`` (default), ``mean |logprob|``; logprobs are <= 0, so this
    is the mean negative log-likelihood per token: an extra, token-averaged cross-entropy. With
    ``of="probs"``, ``mean p``: it lowers the probability of the target tokens (a confidence
    penalty). Not a penalty on the weights (those are on the server).

    Needs: only the logprobs (and ``weights`` in ``loss_fn_inputs`` to leave prompt tokens out).

    Example::

        Term(L1(of="probs"), weight=0.01)   # logprobs [ln .5, ln .25] -> (0.5 + 0.25) / 2 = 0.375
    """

    name = "l1"

    def __init__(self, *, of: Quantity = "logprobs") -> None:
        _check_quantity("L1", of)
        self.of: Quantity = of

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        parts = _quantity(selected_logprobs(data, logprobs, self.name), self.of)
        return _token_mean([p.abs() for p in parts], logprobs)


class L2:
    """The mean square of the target tokens' logprobs (or probabilities).

    Penalises: with ``of="logprobs"``, ``mean logprob**2``: like the NLL but quadratic, so the
    least likely tokens pull hardest (gradient ``2 * logprob / n``). With ``of="probs"``,
    ``mean p**2``: over-confident tokens. Not weight decay (the weights are on the server; use
    ``AdamParams(weight_decay=...)``).

    Needs: only the logprobs.

    Example::

        Term(L2(), weight=0.01)   # logprobs [-1, -2] -> (1 + 4) / 2 = 2.5
    """

    name = "l2"

    def __init__(self, *, of: Quantity = "logprobs") -> None:
        _check_quantity("L2", of)
        self.of: Quantity = of

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        parts = _quantity(selected_logprobs(data, logprobs, self.name), self.of)
        return _token_mean([p.square() for p in parts], logprobs)


class ElasticNet:
    """``l1_ratio * L1 + (1 - l1_ratio) * L2`` on the same quantity (logprobs or probabilities).

    Penalises: what :class:`L1` and :class:`L2` do, mixed; ``l1_ratio`` in [0, 1].

    Needs: only the logprobs.

    Example::

        Term(ElasticNet(l1_ratio=0.5), weight=0.01)   # logprobs [-1, -2] -> .5*1.5 + .5*2.5 = 2.0
    """

    name = "elastic_net"

    def __init__(self, *, l1_ratio: float = 0.5, of: Quantity = "logprobs") -> None:
        if not 0.0 <= l1_ratio <= 1.0:  # also refuses NaN
            raise ValueError(f"ElasticNet: l1_ratio must be in [0, 1], got {l1_ratio!r}")
        _check_quantity("ElasticNet", of)
        self.l1_ratio = float(l1_ratio)
        self._l1, self._l2 = L1(of=of), L2(of=of)

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        l1, l2 = self._l1(data, logprobs), self._l2(data, logprobs)
        value: torch.Tensor = self.l1_ratio * l1 + (1.0 - self.l1_ratio) * l2
        return value


class Entropy:
    """The binary entropy of each target token's probability: ``-p ln p - (1-p) ln(1-p)``.

    The full next-token entropy needs the whole distribution, which the server does not return.
    What the client has is ``p``, the probability of the target token; the entropy of "that
    token or any other" is a lower bound of the full entropy (grouping outcomes never raises
    entropy), and it is largest at ``p = 0.5``.

    Penalises: with ``mode="minimize"`` (default) the mean binary entropy, pushing each ``p``
    towards 0 or 1 (confident); with ``mode="maximize"`` its negative, pushing ``p`` towards 0.5
    (keeps the model from collapsing onto the targets). The weight stays >= 0 either way.

    Needs: only the logprobs.

    Example::

        Term(Entropy(mode="maximize"), weight=0.1)   # p = .25 -> -(-.25 ln .25 - .75 ln .75)
    """

    name = "entropy"

    def __init__(self, *, mode: Literal["minimize", "maximize"] = "minimize") -> None:
        if mode not in ("minimize", "maximize"):
            raise ValueError(f"Entropy: mode must be 'minimize' or 'maximize', not {mode!r}")
        self.mode = mode

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        parts = []
        for lp in selected_logprobs(data, logprobs, self.name):
            p = lp.exp()
            rest = (-lp.expm1()).clamp_min(1e-12)  # 1 - p, exact near p = 1; no log(0)
            parts.append(-(p * lp + rest * rest.log()))
        value = _token_mean(parts, logprobs)
        return -value if self.mode == "maximize" else value


class KLDivergence:
    """A per-token estimate of KL(model || reference) from the target tokens' logprobs.

    With ``r = reference_logprob - logprob`` per counted token, the ``estimator`` is ``"k3"``
    (default, ``exp(r) - r - 1``: >= 0, 0 exactly where the logprobs match), ``"k2"``
    (``r**2 / 2``) or ``"k1"`` (``-r``, may be negative); the value is their mean. They estimate
    the KL without bias only when the tokens were sampled from the model (RL rollouts); on
    fixed data they are a divergence penalty that pulls the logprobs towards the reference's.

    Needs: the reference model's logprob of each target token (e.g. from
    ``SamplingClient.compute_logprobs`` on the base model), per datum: in
    ``loss_fn_inputs[key]`` (default ``"reference_logprobs"``; such extra keys stay on the
    client) or from ``reference(data)``. Reports ``mean_log_ratio`` (mean ``-r``).

    Example::

        inputs["reference_logprobs"] = TensorData.from_list(ref, "float32")  # per target token
        Term(KLDivergence(), weight=0.05)   # logprobs [ln .5, ln .25], ref [ln .25, ln .5] -> 0.25
    """

    name = "kl_divergence"

    def __init__(
        self,
        *,
        key: str = "reference_logprobs",
        reference: ReferenceFn | None = None,
        estimator: Literal["k1", "k2", "k3"] = "k3",
    ) -> None:
        if estimator not in ("k1", "k2", "k3"):
            raise ValueError(f"KLDivergence: estimator must be k1, k2 or k3, not {estimator!r}")
        self.key, self.reference, self.estimator = key, reference, estimator

    def __call__(
        self, data: list[Datum], logprobs: list[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        mine = selected_logprobs(data, logprobs, self.name)
        refs = per_datum_input(data, logprobs, self.name, key=self.key, reference=self.reference)
        parts, ratios = [], []
        for lp, ref in zip(mine, refs, strict=True):
            r = ref - lp
            ratios.append(-r.detach())
            if self.estimator == "k3":
                parts.append(r.exp() - r - 1.0)
            elif self.estimator == "k2":
                parts.append(0.5 * r.square())
            else:
                parts.append(-r)
        value = _token_mean(parts, logprobs)
        count = sum(x.numel() for x in ratios)
        ratio = float(sum(float(x.sum()) for x in ratios) / count) if count else 0.0
        return value, {"mean_log_ratio": ratio}


class Consistency:
    """The disagreement between paired datums' logprobs of the same target tokens.

    Penalises: for each pair ``(i, j)`` of datums (two views of one example, e.g. a prompt and
    its paraphrase with the same answer), ``(logprob_i - logprob_j)**2`` (``metric="mse"``) or
    ``|logprob_i - logprob_j|`` (``metric="mae"``), averaged over the positions of all pairs.
    Both datums of a pair get a gradient.

    Needs: the pairs, as ``pairs=[(i, j), ...]`` indexes into the batch, or by default the batch
    laid out as consecutive pairs (0, 1), (2, 3), ...; both datums of a pair with the same
    number of counted target tokens.

    Example::

        Term(Consistency(), weight=0.1)   # logprobs [-1, -2] and [-2, -2] -> (1 + 0) / 2 = 0.5
    """

    name = "consistency"

    def __init__(
        self,
        *,
        pairs: Sequence[tuple[int, int]] | None = None,
        metric: Literal["mse", "mae"] = "mse",
    ) -> None:
        if metric not in ("mse", "mae"):
            raise ValueError(f"Consistency: metric must be 'mse' or 'mae', not {metric!r}")
        self.pairs = None if pairs is None else [(int(i), int(j)) for i, j in pairs]
        self.metric = metric

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        parts = selected_logprobs(data, logprobs, self.name)
        pairs = self.pairs
        if pairs is None:
            if len(parts) % 2:
                raise RegularizerError(
                    self.name,
                    f"the batch has {len(parts)} datums; by default it is read as consecutive "
                    "pairs (0, 1), (2, 3), ...: give an even number or pass pairs=",
                )
            pairs = [(i, i + 1) for i in range(0, len(parts), 2)]
        diffs = []
        for i, j in pairs:
            if not (0 <= i < len(parts) and 0 <= j < len(parts)):
                raise RegularizerError(
                    self.name, f"pair ({i}, {j}) is outside the batch of {len(parts)} datums"
                )
            if parts[i].numel() != parts[j].numel():
                raise RegularizerError(
                    self.name,
                    f"pair ({i}, {j}) has {parts[i].numel()} and {parts[j].numel()} counted "
                    "target tokens: a pair must score the same targets",
                )
            d = parts[i] - parts[j]
            diffs.append(d.square() if self.metric == "mse" else d.abs())
        return _token_mean(diffs, logprobs)


LossLike = Callable[[list[Datum], list[Any]], Any]


class GradientPenalty:
    """The norm of a loss's gradient with respect to the logprobs.

    Penalises: with ``g = d loss_fn(data, logprobs) / d logprobs`` over the whole batch,
    ``||g||**2`` (``target_norm=None``, default) or ``(||g|| - target_norm)**2`` (the WGAN-GP
    form). The gradient is taken with respect to the logprobs, not the weights (those are on
    the server): it makes the loss smoother as a function of the model's outputs. A loss that is
    linear in the logprobs (plain cross-entropy) has a constant gradient, so this penalty then
    has none of its own; use it with a non-linear loss (e.g. sequence-level).

    Needs: ``loss_fn``, the loss to differentiate, ``(data, logprobs) -> tensor`` or
    ``(tensor, metrics)``; it is evaluated again here (with ``create_graph``).

    Example::

        Term(GradientPenalty(seq_loss), weight=0.01)   # loss sum(lp**2)/2 -> ||lp||**2
    """

    name = "gradient_penalty"

    def __init__(self, loss_fn: LossLike, *, target_norm: float | None = None) -> None:
        if target_norm is not None and not (math.isfinite(target_norm) and target_norm >= 0):
            raise ValueError(f"GradientPenalty: target_norm must be >= 0, got {target_norm!r}")
        self.loss_fn, self.target_norm = loss_fn, target_norm

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        torch_ = require("torch")
        inputs = logprobs
        if not any(lp.requires_grad for lp in logprobs):  # evaluation: differentiate a copy
            inputs = [lp.detach().requires_grad_() for lp in logprobs]
        with torch_.enable_grad():
            loss = self.loss_fn(data, inputs)
            if isinstance(loss, tuple):
                loss = loss[0]
            if not isinstance(loss, torch_.Tensor) or not loss.requires_grad:
                raise RegularizerError(
                    self.name, "loss_fn must return a tensor computed from the logprobs"
                )
            grads = torch_.autograd.grad(loss, inputs, create_graph=True, allow_unused=True)
        # `lp.sum() * 0` keeps the value on the graph when the gradient is constant.
        squared: torch.Tensor = sum(
            (
                lp.sum() * 0.0 + (g.square().sum() if g is not None else 0.0)
                for g, lp in zip(grads, inputs, strict=True)
            ),
            torch_.zeros(()),
        )
        if self.target_norm is None:
            return squared
        value: torch.Tensor = (squared.sqrt() - self.target_norm).square()
        return value


class Orthogonality:
    """How correlated different datums' logprob profiles are.

    Penalises: for each pair of datums, the squared correlation (cosine after centering) of
    their counted logprob vectors, averaged over the pairs. Low when the per-token likelihoods
    of different examples vary independently. The usual orthogonality constraint acts on weight
    matrices, which are on the server; this is the version on what the client has.

    Needs: at least two datums with the same number (>= 2) of counted target tokens (e.g.
    fixed-length examples); with one datum it is 0.

    Example::

        Term(Orthogonality(), weight=0.1)   # [-1, -2, -3] and [-1, -3, -2]: corr .5 -> .25
    """

    name = "orthogonality"

    def __call__(self, data: list[Datum], logprobs: list[torch.Tensor]) -> torch.Tensor:
        torch_ = require("torch")
        parts = selected_logprobs(data, logprobs, self.name)
        sizes = {p.numel() for p in parts}
        if len(sizes) > 1 or (parts and min(sizes) < 2):
            raise RegularizerError(
                self.name,
                f"needs datums with the same number (>= 2) of counted target tokens, got "
                f"{[p.numel() for p in parts]}: group fixed-length examples in one batch",
            )
        centered = [p - p.mean() for p in parts]
        squares = []
        for a, b in combinations(centered, 2):
            norms = ((a.square().sum() + 1e-12) * (b.square().sum() + 1e-12)).sqrt()
            squares.append(((a * b).sum() / norms).square().reshape(1))
        if not squares:
            return _token_mean([], logprobs)
        value: torch.Tensor = torch_.cat(squares).mean()
        return value
