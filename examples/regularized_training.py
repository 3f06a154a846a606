"""Regularized training: cross-entropy plus a KL penalty and an entropy bonus, term by term.

``tinkex.regularizers.Pipeline`` composes ``loss = base_loss + sum(weight_i * regularizer_i)`` and
is used as the loss of ``forward_backward_custom``: the SDK computes it on the logprobs the server
returns and sends its gradient back. Here the base loss is the cross-entropy, and two
regularizers act on the same logprobs:

* ``KLDivergence``: keeps the model near where it started (the reference logprobs are those of
  the first forward pass, stored in each datum as ``reference_logprobs``);
* ``Entropy(mode="maximize")``: keeps each target token's probability away from 1.

Each step prints every term (value, weighted value, gradient norm w.r.t. the logprobs). Needs
``pip install 'tinkex[torch]'``.

    python examples/regularized_training.py [--steps N]
"""

from __future__ import annotations

import argparse

from _common import LEARNING_RATE, LORA_RANK, Example, check, mean_nll, run, section, skip

import tinkex as tinker
from tinkex import types


def with_reference(datum: types.Datum, reference: list[float]) -> types.Datum:
    """The datum with the reference model's logprob of each target token added (client-side)."""
    inputs = dict(datum.loss_fn_inputs)
    inputs["reference_logprobs"] = types.TensorData.from_list(reference, "float32")
    return types.Datum(model_input=datum.model_input, loss_fn_inputs=inputs)


def main(ex: Example) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="training steps (default 4)")
    args = parser.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError:
        skip("regularizers need torch, which is not installed (pip install 'tinkex[torch]')")
    from tinkex.regularizers import Entropy, KLDivergence, Pipeline, Term, cross_entropy

    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()

        # The reference: the model's logprobs before training (the LoRA starts as a no-op).
        start = training.forward(data, "cross_entropy").result()
        data = [
            with_reference(d, out["logprobs"].tolist())
            for d, out in zip(data, start.loss_fn_outputs, strict=True)
        ]
        before = mean_nll(start, data)

        loss_fn = Pipeline(
            cross_entropy,
            [
                Term(KLDivergence(), weight=20.0),
                Term(Entropy(mode="maximize"), weight=5.0),
            ],
            track_grad_norms=True,
        )
        section(f"{args.steps} steps of cross-entropy + 20 * KL + 5 * (-entropy)")
        for step in range(1, args.steps + 1):
            m = training.forward_backward_custom(data, loss_fn).result().metrics
            training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)).result()
            print(f"  step {step}: loss {m['loss:sum']:.4f}")
            print(
                f"    base_loss       value {m['base_loss:value']:10.4f}"
                f"                    grad_norm {m['base_loss:grad_norm']:.4f}"
            )
            for name in ("kl_divergence", "entropy"):
                print(
                    f"    reg/{name:<13} value {m[f'reg/{name}:value']:10.6f}"
                    f"  weighted {m[f'reg/{name}:weighted']:10.6f}"
                    f"  grad_norm {m[f'reg/{name}:grad_norm']:.4f}"
                )
            check(
                abs(
                    m["loss:sum"]
                    - m["base_loss:value"]
                    - m["reg/kl_divergence:weighted"]
                    - m["reg/entropy:weighted"]
                )
                < 1e-3 * max(1.0, abs(m["loss:sum"])),
                "loss:sum is not the base loss plus the weighted terms",
            )

        after = mean_nll(training.forward(data, "cross_entropy").result(), data)
        print(f"mean NLL per token: {before:.4f} -> {after:.4f}")
        check(after < before, "training on the regularized loss did not lower the NLL")
        check(m["reg/kl_divergence:value"] > 0, "the KL to the start stayed 0 after training")


if __name__ == "__main__":
    run(main)
