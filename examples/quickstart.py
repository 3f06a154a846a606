"""Quickstart: a LoRA training run from start to finish.

Creates a LoRA training client, trains a few cross-entropy steps on a small built-in text with a
progress bar showing the loss going down, saves the weights for the sampler, samples a
completion and prints it.

    python examples/quickstart.py [--steps N]     # no server configured: starts a local one
    TINKER_BASE_URL=... TINKER_API_KEY=... python examples/quickstart.py   # any Tinker server
"""

from __future__ import annotations

import argparse
import time

from _common import (
    LEARNING_RATE,
    LORA_RANK,
    MAX_TOKENS,
    PROMPT,
    TRAIN_LINES,
    Example,
    Progress,
    check,
    mean_nll,
    run,
    section,
)

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="training steps (default 8)")
    args = parser.parse_args()

    with tinker.ServiceClient() as service:  # TINKER_BASE_URL / TINKER_API_KEY
        section(f"LoRA training client on {ex.base_model} at {service.get_console_url()}")
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        print(f"training run: {training.model_id} (LoRA rank {LORA_RANK})")

        # One datum per line of text: predict every next token (cross entropy).
        data = []
        for tokens in ex.tokenizer.encode_many(TRAIN_LINES):
            data.append(
                types.Datum(
                    model_input=types.ModelInput.from_ints(tokens[:-1]),
                    loss_fn_inputs={
                        "target_tokens": tokens[1:],
                        "weights": [1.0] * (len(tokens) - 1),
                    },
                )
            )
        print(f"{len(data)} sequences, {sum(d.model_input.length for d in data)} tokens")

        section(f"{args.steps} steps of cross entropy, Adam lr={LEARNING_RATE:g}")
        losses: list[float] = []
        t0 = time.monotonic()
        with Progress(args.steps, "training") as bar:
            for step in range(1, args.steps + 1):
                # Both requests are submitted at once; the server runs them in order.
                fb = training.forward_backward(data, "cross_entropy")
                opt = training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE))
                loss = mean_nll(fb.result(), data)
                opt.result()
                losses.append(loss)
                bar.update(step, loss)
        print(
            f"loss {losses[0]:.4f} -> {losses[-1]:.4f} in {time.monotonic() - t0:.1f}s "
            f"({losses[-1] - losses[0]:+.4f} nats per token)"
        )
        check(losses[-1] < losses[0], f"the loss did not go down: {losses}")

        section("save the weights for the sampler and sample")
        saved = training.save_weights_for_sampler("quickstart").result()
        print(f"sampler weights: {saved.path}")
        sampler = training.create_sampling_client(saved.path).result()
        prompt = ex.prompt(PROMPT)
        params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.7, seed=0)
        result = sampler.sample(prompt, num_samples=1, sampling_params=params).result()
        seq = result.sequences[0]
        print(f"prompt:     {PROMPT!r}")
        print(f"completion: {ex.tokenizer.decode(seq.tokens)!r}")
        print(f"({len(seq.tokens)} tokens, stop reason: {seq.stop_reason})")
        check(len(seq.tokens) > 0, "the sampler returned no tokens")
        if ex.local:
            print("(the local model is tiny and random: expect gibberish, not an answer)")


if __name__ == "__main__":
    run(main)
