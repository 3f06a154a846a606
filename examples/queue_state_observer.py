"""Queue-state observers: see when the server queues your requests, and why.

While a request waits, a Tinker server answers polls with a queue state (``active``,
``paused_rate_limit``, ``paused_capacity``) and a reason. tinkex reports each change three ways:

* a telemetry listener gets a ``queue_state`` event (``ServiceClient(listeners=[...])``);
* ``SamplingClient.on_queue_state_change(state, reason)`` is called (override or replace it);
* the ``tinkex`` logger warns when a request stays paused (training runs after 15 minutes).

This sends a burst of sampling and training requests and prints every state change. A server
that reports no queue states (skyrl-tx holds each poll open until the result is ready) gives a
skip with that reason.

    python examples/queue_state_observer.py
"""

from __future__ import annotations

import collections
import threading

from _common import LORA_RANK, MAX_TOKENS, Example, run, section, skip

import tinkex as tinker
from tinkex import types


def main(ex: Example) -> None:
    lock = threading.Lock()
    kinds: collections.Counter[str] = collections.Counter()
    changes: list[str] = []

    def listener(event: tinker.runtime.Event) -> None:
        with lock:
            kinds[event.kind] += 1
            if event.kind == "queue_state":
                changes.append(f"telemetry: {event.endpoint} {event.request_id} -> {event.detail}")
                print(f"  {changes[-1]}", flush=True)

    def on_sampler_state(state: str, reason: str | None) -> None:
        with lock:
            changes.append(f"sampler: {state} ({reason or 'no reason given'})")
            print(f"  {changes[-1]}", flush=True)

    with tinker.ServiceClient(listeners=[listener]) as service:
        sampler = service.create_sampling_client(base_model=ex.base_model).result()
        sampler.on_queue_state_change = on_sampler_state  # type: ignore[method-assign]
        training = service.create_lora_training_client(ex.base_model, rank=LORA_RANK).result()
        ex.unload_at_exit(training)
        data = ex.training_data()
        prompt = ex.prompt()

        section("a burst of requests")
        params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.8)
        samples = [sampler.sample(prompt, 1, params) for _ in range(4)]
        steps = [training.forward_backward(data, "cross_entropy") for _ in range(2)]
        for fut in [*samples, *steps]:
            fut.result()
        print(f"  {len(samples)} samples and {len(steps)} forward_backward passes done")
        print(f"  telemetry events: {dict(kinds)}")

    if not changes:
        skip(
            "the server reported no queue state while "
            f"{kinds['request_start']} requests ran (it holds each retrieve_future poll open "
            "until the result is ready instead of answering try_again with a queue_state); "
            "the observers were registered and saw every request complete"
        )
    print(f"{len(changes)} queue-state change(s) observed")


if __name__ == "__main__":
    run(main)
