"""Server capabilities, and ``compute_logprobs``: how likely the model finds each prompt token.

``SamplingClient.compute_logprobs(prompt)`` returns one value per prompt token; the first is
``None`` (nothing precedes it). Summing them scores a whole text, e.g. to rank answers.

    python examples/compute_logprobs.py
"""

from __future__ import annotations

from _common import Example, check, run, section

import tinkex as tinker


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        section("server capabilities")
        caps = service.get_server_capabilities()
        for model in caps.supported_models:
            trainable = {True: "trainable", False: "sampling only", None: "trainable?"}
            print(f"  {model.model_name}  ({trainable[model.trainable]})")
        check(bool(caps.supported_models), "the server lists no models")

        sampler = service.create_sampling_client(base_model=ex.base_model).result()

        section("logprob of each prompt token")
        text = "Question: What is two plus two? Answer: Four."
        prompt = ex.prompt(text)
        logprobs = sampler.compute_logprobs(prompt).result()
        tokens = prompt.to_ints()
        check(len(logprobs) == len(tokens), f"{len(logprobs)} logprobs for {len(tokens)} tokens")
        check(logprobs[0] is None, f"the first logprob should be None, got {logprobs[0]}")
        for token, lp in zip(tokens, logprobs, strict=True):
            shown = "   None" if lp is None else f"{lp:7.3f}"
            print(f"  {token:5d} {ex.tokenizer.token_text(token)!r:12} {shown}")

        section("scoring answers: the sum of their tokens' logprobs")
        question = "Question: What is two plus two? Answer:"
        n_question = len(ex.tokenizer.encode(question))
        scores = {}
        for answer in (" Four.", " Blue.", " Paris."):
            lps = sampler.compute_logprobs(ex.prompt(question + answer)).result()
            answer_lps = [lp for lp in lps[n_question:] if lp is not None]
            scores[answer] = sum(answer_lps)
            print(f"  {answer!r:10} {scores[answer]:8.3f} over {len(answer_lps)} tokens")
        best = max(scores, key=lambda a: scores[a])
        print(f"the model prefers {best!r}")
        if ex.local:
            print("(the local model has random weights: its preference means nothing)")


if __name__ == "__main__":
    run(main)
