"""Regularizers for ``TrainingClient.forward_backward_custom``: ``base_loss + sum(w_i * r_i)``.

A regularizer takes what a custom loss takes, the batch and one logprob tensor per datum, and
returns a scalar tensor (and, optionally, metrics). A :class:`Pipeline` adds weighted
regularizers to a base loss and reports each term in the step's metrics. The penalties act
through the logprobs the server returns for the target tokens; their gradient reaches the
model through the cross-entropy surrogate of ``forward_backward_custom``. The weights and full
distributions stay on the server, so penalties on them are not available here.

Needs torch (``pip install 'tinkex[torch]'``) to compute; importing this module does not.

Example::

    import tinkex as tinker
    from tinkex.regularizers import L2, KLDivergence, Pipeline, Term, cross_entropy

    loss_fn = Pipeline(
        cross_entropy,
        [Term(L2(), weight=0.01), Term(KLDivergence(), weight=0.05)],
        track_grad_norms=True,
    )
    out = training.forward_backward_custom(data, loss_fn).result()
    print(out.metrics["base_loss:value"], out.metrics["reg/l2:weighted"])
"""

from ._builtins import (
    L1,
    L2,
    Consistency,
    ElasticNet,
    Entropy,
    GradientPenalty,
    KLDivergence,
    Orthogonality,
)
from ._pipeline import BASE_NAME, Pipeline, Term, cross_entropy
from ._protocol import Regularizer, RegularizerError

__all__ = [
    "BASE_NAME",
    "L1",
    "L2",
    "Consistency",
    "ElasticNet",
    "Entropy",
    "GradientPenalty",
    "KLDivergence",
    "Orthogonality",
    "Pipeline",
    "Regularizer",
    "RegularizerError",
    "Term",
    "cross_entropy",
]
