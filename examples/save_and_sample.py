"""Save weights and sample from them, two ways.

* ``save_weights_and_get_sampling_client()``: a sampler on the current weights, at once (no
  named checkpoint is kept);
* ``save_weights_for_sampler(name)``: a persistent ``tinker://<run>/sampler_weights/<name>``
  checkpoint; any client can sample it later with ``create_sampling_client(model_path=...)``.

    python examples/save_and_sample.py
"""

from __future__ import annotations

from _common import LEARNING_RATE, LORA_RANK, MAX_TOKENS, Example, check, run, section

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()
        for _ in range(2):
            training.forward_backward(data, "cross_entropy")
            training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)).result()
        prompt = ex.prompt()
        greedy = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)

        section("save_weights_and_get_sampling_client()")
        quick = training.save_weights_and_get_sampling_client().result()
        a = quick.sample(prompt, 1, greedy).result().sequences[0]
        print(f"  {quick.sampling_session_id}: {ex.tokenizer.decode(a.tokens)!r}")

        section("save_weights_for_sampler(name), then a sampler on its path")
        saved = training.save_weights_for_sampler("save-and-sample").result()
        print(f"  saved: {saved.path}")
        parsed = types.ParsedCheckpointTinkerPath.from_tinker_path(saved.path)
        print(
            f"  run {parsed.training_run_id}, type {parsed.checkpoint_type}, "
            f"id {parsed.checkpoint_id}"
        )
        check(parsed.checkpoint_type == "sampler", f"not a sampler checkpoint: {saved.path}")
        from_path = service.create_sampling_client(model_path=saved.path).result()
        b = from_path.sample(prompt, 1, greedy).result().sequences[0]
        print(f"  {from_path.sampling_session_id}: {ex.tokenizer.decode(b.tokens)!r}")
        check(
            a.tokens == b.tokens, f"same weights, different greedy samples: {a.tokens} {b.tokens}"
        )
        print("  both samplers hold the same weights: the same greedy completion")

        section("the base model, for comparison")
        base = service.create_sampling_client(base_model=ex.base_model).result()
        c = base.sample(prompt, 1, greedy).result().sequences[0]
        print(f"  base: {ex.tokenizer.decode(c.tokens)!r}")
        print(
            f"  {'differs from' if c.tokens != a.tokens else 'equals'} the trained weights' sample"
        )


if __name__ == "__main__":
    run(main)
