"""Adam parameters, and a batch too large for one request, split into chunks by the SDK.

``AdamParams`` sets the optimizer step: learning rate, betas, eps, decoupled weight decay and
gradient clipping. A ``forward_backward`` batch larger than the server's limits (1024 datums or
about 5 MB per request by default) is sent as several requests, in order, and their outputs are
merged back into one, in the order of the data. A telemetry listener counts the requests.

    python examples/adam_and_chunking.py [--batch 1025]
"""

from __future__ import annotations

import argparse
import time

from _common import LEARNING_RATE, LORA_RANK, TRAIN_LINES, Example, check, mean_nll, run, section

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1025, help="datums in the large batch")
    args = parser.parse_args()

    requests: list[str] = []

    def count_requests(event: tinker.runtime.Event) -> None:
        if event.kind == "request_start" and event.attempt == 1:
            requests.append(event.endpoint)

    with tinker.ServiceClient(listeners=[count_requests]) as service:
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)

        section("AdamParams")
        adam = types.AdamParams(
            learning_rate=LEARNING_RATE,
            beta1=0.9,
            beta2=0.95,
            eps=1e-8,
            weight_decay=0.01,  # decoupled (AdamW)
            grad_clip_norm=1.0,  # clip the global gradient norm; 0 disables
        )
        print(f"  {adam.model_dump()}")

        section(f"one step on a batch of {args.batch} datums")
        small = ex.training_data()
        data = [small[i % len(small)] for i in range(args.batch)]
        print(f"  {len(data)} datums, {sum(d.model_input.length for d in data)} tokens")
        before = mean_nll(training.forward(small, "cross_entropy").result(), small)
        requests.clear()
        t0 = time.monotonic()
        fb = training.forward_backward(data, "cross_entropy")
        # The step waits for the chunks here (a training loop would submit it at once): tinkex
        # sends every chunk before the step, but skyrl-tx 0.3.0 reads its queue of passes and
        # its queue of other requests in two queries, so a step that arrives just between
        # them may run before the last chunk, and the equal-datum check below would differ.
        out = fb.result()
        training.optim_step(adam).result()
        chunks = requests.count("forward_backward_json") + requests.count("forward_backward")
        print(
            f"  {chunks} forward_backward requests, {len(out.loss_fn_outputs)} outputs merged, "
            f"mean NLL {mean_nll(out, data):.4f} ({time.monotonic() - t0:.1f}s)"
        )
        check(len(out.loss_fn_outputs) == len(data), "the merged output lost datums")
        if args.batch > 1024:
            check(chunks >= 2, f"a batch of {args.batch} went in {chunks} request(s)")
        # The merged outputs are in the order of the data: equal datums, equal logprobs.
        for i in (0, len(data) - 1):
            same = i % len(small)
            got = out.loss_fn_outputs[i]["logprobs"].tolist()
            want = out.loss_fn_outputs[same]["logprobs"].tolist()
            check(
                len(got) == len(want)
                and max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-3,
                f"output {i} differs from output {same} of the same datum: order lost",
            )
        print(f"  outputs are in the order of the data ({len(TRAIN_LINES)} distinct lines)")
        after = mean_nll(training.forward(small, "cross_entropy").result(), small)
        print(f"  mean NLL per token on the text: {before:.4f} -> {after:.4f}")
        check(after < before, "the step did not lower the loss")


if __name__ == "__main__":
    run(main)
