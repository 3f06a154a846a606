"""A custom loss: ``forward_backward_custom`` with a loss written in torch on the client.

The SDK runs a forward pass, hands your function one logprob tensor per datum (with gradients
enabled), and sends the gradient of your loss back to the server, which accumulates it like any
other. Here the loss is a weighted negative log-likelihood plus a penalty that keeps the
per-token logprobs from spreading apart. Needs ``pip install 'tinkex[torch]'``.

    python examples/custom_loss.py
"""

from __future__ import annotations

from typing import Any

from _common import LEARNING_RATE, LORA_RANK, Example, check, mean_nll, run, section, skip

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    try:
        import torch
    except ImportError:
        skip(
            "forward_backward_custom needs torch, which is not installed (pip install 'tinkex[torch]')"
        )

    def nll_with_spread_penalty(
        data: list[types.Datum], logprobs: list[Any]
    ) -> tuple[Any, dict[str, float]]:
        nll = torch.stack([-lp.mean() for lp in logprobs]).mean()
        spread = torch.stack([lp.std() for lp in logprobs if lp.numel() > 1]).mean()
        loss = nll + 0.1 * spread
        return loss, {"nll": float(nll.detach()), "spread": float(spread.detach())}

    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()

        section("three steps with a custom loss")
        before = mean_nll(training.forward(data, "cross_entropy").result(), data)
        for step in range(1, 4):
            out = training.forward_backward_custom(data, nll_with_spread_penalty).result()
            training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)).result()
            m = out.metrics
            print(
                f"  step {step}: loss {m['loss:sum']:.4f}  nll {m['nll']:.4f}  "
                f"spread {m['spread']:.4f}"
            )
        after = mean_nll(training.forward(data, "cross_entropy").result(), data)
        print(f"mean NLL per token: {before:.4f} -> {after:.4f}")
        check(after < before, "training on the custom loss did not lower the NLL")


if __name__ == "__main__":
    run(main)
