"""Basic sampling: a SamplingClient on a base model; several samples, greedy decoding, stops.

A sampler on a base model needs no training run. ``sample`` returns ``num_samples`` sequences,
each with its tokens, their logprobs and why it stopped (``length`` or ``stop``).

    python examples/basic_sampling.py
"""

from __future__ import annotations

from _common import MAX_TOKENS, PROMPT, Example, check, run, section

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        sampler = service.create_sampling_client(base_model=ex.base_model).result()
        print(f"sampling client {sampler.sampling_session_id} on {sampler.get_base_model()}")
        prompt = ex.prompt(PROMPT)
        print(f"prompt: {PROMPT!r} ({prompt.length} tokens)")

        section("two samples at temperature 0.8")
        params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.8, seed=1)
        result = sampler.sample(prompt, num_samples=2, sampling_params=params).result()
        check(len(result.sequences) == 2, f"asked for 2 samples, got {len(result.sequences)}")
        for i, seq in enumerate(result.sequences):
            logprob = sum(seq.logprobs or [])
            print(
                f"  [{i}] {ex.tokenizer.decode(seq.tokens)!r}\n"
                f"      {len(seq.tokens)} tokens, stop reason {seq.stop_reason}, "
                f"sum of logprobs {logprob:.2f}"
            )
            check(len(seq.tokens) <= MAX_TOKENS, "more tokens than max_tokens")

        section("greedy decoding (temperature 0) is deterministic")
        greedy = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)
        first = sampler.sample(prompt, 1, greedy).result().sequences[0]
        again = sampler.sample(prompt, 1, greedy).result().sequences[0]
        print(f"  {ex.tokenizer.decode(first.tokens)!r}")
        check(first.tokens == again.tokens, f"greedy runs differ: {first.tokens} {again.tokens}")
        print("  the same tokens twice")

        section("stop sequences")
        # A stop token: stop where the greedy continuation would produce its 4th token.
        stop_token = first.tokens[3]
        stopped = (
            sampler.sample(
                prompt,
                1,
                types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, stop=[stop_token]),
            )
            .result()
            .sequences[0]
        )
        print(
            f"  stop=[{stop_token}] ({ex.tokenizer.token_text(stop_token)!r}): "
            f"{stopped.tokens} stop reason {stopped.stop_reason}"
        )
        check(stopped.stop_reason == "stop", f"expected stop reason 'stop': {stopped}")
        check(stopped.tokens[:3] == first.tokens[:3], "the stopped sample diverged before its stop")
        check(len(stopped.tokens) <= 4, f"sampling went on past the stop token: {stopped.tokens}")
        # A stop string (a str works as well as a list of them).
        text = ex.tokenizer.decode(first.tokens)
        stop_text = text[len(text) // 2 :][:2] or text[:1]
        by_string = (
            sampler.sample(
                prompt,
                1,
                types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, stop=stop_text),
            )
            .result()
            .sequences[0]
        )
        print(
            f"  stop={stop_text!r}: {ex.tokenizer.decode(by_string.tokens)!r} "
            f"stop reason {by_string.stop_reason}"
        )
        check(
            len(by_string.tokens) < len(first.tokens) or by_string.stop_reason == "stop",
            "the stop string did not stop sampling",
        )

        section("max_tokens")
        short = sampler.sample(prompt, 1, types.SamplingParams(max_tokens=4, temperature=0.0))
        seq = short.result().sequences[0]
        print(f"  max_tokens=4: {seq.tokens} stop reason {seq.stop_reason}")
        check(len(seq.tokens) <= 4, "more tokens than max_tokens")
        check(seq.tokens == first.tokens[: len(seq.tokens)], "greedy prefix differs")


if __name__ == "__main__":
    run(main)
