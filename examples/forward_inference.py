"""Forward-only inference: the logprob of every target token, without computing gradients.

``TrainingClient.forward`` runs the model on a batch and returns per-token logprobs (and the
loss inputs' outputs) but accumulates no gradient, so it is safe for evaluation in the middle of
training.

    python examples/forward_inference.py
"""

from __future__ import annotations

import numpy as np
from _common import LEARNING_RATE, LORA_RANK, Example, check, mean_nll, run, section

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()

        section("forward pass (no gradients)")
        out = training.forward(data, "cross_entropy").result()
        print(f"output type: {out.loss_fn_output_type}; metrics: {out.metrics or '{}'}")
        for i, (datum, item) in enumerate(zip(data, out.loss_fn_outputs, strict=True)):
            logprobs = item["logprobs"].to_numpy()  # one per target token
            targets = datum.loss_fn_inputs["target_tokens"].to_numpy()
            check(
                logprobs.shape == targets.shape,
                f"datum {i}: {logprobs.shape[0]} logprobs for {targets.shape[0]} targets",
            )
            worst = int(np.argmin(logprobs))
            print(
                f"  [{i}] {targets.shape[0]} targets  mean logprob {logprobs.mean():7.3f}  "
                f"perplexity {np.exp(-logprobs.mean()):7.1f}  least likely: "
                f"{ex.tokenizer.token_text(int(targets[worst]))!r} ({logprobs[worst]:.2f})"
            )
        before = mean_nll(out, data)
        print(f"mean NLL per token: {before:.4f}")

        section("forward again: same weights, same logprobs")
        again = mean_nll(training.forward(data, "cross_entropy").result(), data)
        print(f"mean NLL per token: {again:.4f}")
        check(abs(again - before) < 1e-4, f"two forward passes differ: {before} vs {again}")

        section("one training step, then forward: the logprobs moved")
        training.forward_backward(data, "cross_entropy").result()
        training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)).result()
        after = mean_nll(training.forward(data, "cross_entropy").result(), data)
        print(f"mean NLL per token: {before:.4f} -> {after:.4f}")
        check(after < before, "one step of training did not lower the loss")


if __name__ == "__main__":
    run(main)
