"""asyncio: every call returns an ``APIFuture`` that can be awaited; ``sample_async`` runs on
the caller's own event loop.

The same clients serve synchronous and asyncio code: ``await fut`` instead of
``fut.result()``. Requests run on the SDK's own thread, so the event loop stays free; several
requests can be in flight at once with ``asyncio.gather``.

    python examples/async_usage.py
"""

from __future__ import annotations

import asyncio
import time

from _common import LEARNING_RATE, LORA_RANK, MAX_TOKENS, Example, check, mean_nll, run, section

import tinkex as tinker
from tinkex import types


async def ticker(stop: asyncio.Event) -> int:
    """Counts while the requests run: proof the event loop is not blocked."""
    ticks = 0
    while not stop.is_set():
        await asyncio.sleep(0.05)
        ticks += 1
    return ticks


async def amain(ex: Example, service: tinker.ServiceClient) -> None:
    stop = asyncio.Event()
    ticks = asyncio.create_task(ticker(stop))

    section("create clients concurrently")
    t0 = time.monotonic()
    training, sampler = await asyncio.gather(
        service.create_lora_training_client(ex.base_model, rank=LORA_RANK),
        service.create_sampling_client(base_model=ex.base_model),
    )
    ex.unload_at_exit(training)
    print(
        f"  {training.model_id} and {sampler.sampling_session_id} in {time.monotonic() - t0:.1f}s"
    )

    section("a training step: submit both, await both")
    data = ex.training_data()
    fb, _ = await asyncio.gather(
        training.forward_backward(data, "cross_entropy"),
        training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE)),
    )
    print(f"  loss before the step: {mean_nll(fb, data):.4f}")
    # The official SDK's (deprecated) *_async twins work too: awaited, they give the future.
    after = await (await training.forward_async(data, "cross_entropy"))
    print(f"  loss after the step:  {mean_nll(after, data):.4f}")

    section("four prompts sampled concurrently")
    texts = ["The quick brown fox", "All that glitters", "Question: What is", "Once upon a time"]
    params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)
    t0 = time.monotonic()
    results = await asyncio.gather(*(sampler.sample(ex.prompt(t), 1, params) for t in texts))
    for text, result in zip(texts, results, strict=True):
        print(f"  {text!r} -> {ex.tokenizer.decode(result.sequences[0].tokens)!r}")
    print(f"  {len(results)} samples in {time.monotonic() - t0:.1f}s")

    section("the same prompts with sample_async: on this event loop, no hand-off to a thread")
    t0 = time.monotonic()
    native = await asyncio.gather(*(sampler.sample_async(ex.prompt(t), 1, params) for t in texts))
    check(all(r.sequences[0].tokens for r in native), "sample_async returned no tokens")
    pairs = zip(results, native, strict=True)
    same = sum(a.sequences[0].tokens == b.sequences[0].tokens for a, b in pairs)
    print(f"  {len(native)} samples in {time.monotonic() - t0:.1f}s; {same} identical to the above")

    section("a deadline on an await")
    try:
        await asyncio.wait_for(training.forward(data, "cross_entropy"), timeout=0.001)
    except TimeoutError:
        print("  asyncio.wait_for ran out; the SDK's request is left to finish")

    stop.set()
    count = await ticks
    print(f"\nthe event loop ticked {count} times while the requests ran")
    check(count > 0, "the event loop was blocked")


def main(ex: Example) -> None:
    with tinker.ServiceClient() as service:
        asyncio.run(amain(ex, service))


if __name__ == "__main__":
    run(main)
