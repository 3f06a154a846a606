"""What the workers of the rollouts tests run (importable by name: spawned processes and Ray
workers import it, unlike a test module)."""

from __future__ import annotations

import os
import time
from typing import Any

from tinkex import SamplingClient, types

PARAMS = types.SamplingParams(max_tokens=3)


def set_env(values: dict[str, str | None]) -> None:
    """A process pool's initializer: the worker's environment, whatever the parent's is."""
    for name in [n for n in os.environ if n.startswith("TINKER_")]:
        del os.environ[name]
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def tokens(sampler: SamplingClient, prompt: list[int]) -> dict[str, Any]:
    """One sample of ``prompt``, and where it was made."""
    out = sampler.sample(types.ModelInput.from_ints(prompt), 1, PARAMS).result(timeout=20)
    return {"tokens": list(out.sequences[0].tokens), "pid": os.getpid()}


async def tokens_async(sampler: SamplingClient, prompt: list[int]) -> list[int]:
    """The same with ``sample_async``, on the worker thread's own event loop."""
    out = await sampler.sample_async(types.ModelInput.from_ints(prompt), 1, PARAMS)
    return list(out.sequences[0].tokens)


def fail_on_five(sampler: SamplingClient, prompt: list[int]) -> list[int]:
    """Samples, except for the prompt ``[5]``, which raises."""
    if prompt == [5]:
        raise ValueError("prompt 5 is cursed")
    return list(tokens(sampler, prompt)["tokens"])


def sample_plain(sampler: SamplingClient) -> list[int]:
    """``pool.submit(sample_plain, sampler)``: the sampler pickled by the pool itself."""
    with sampler:
        return list(tokens(sampler, [1, 2])["tokens"])


def slow(sampler: SamplingClient, seconds: float) -> float:
    """Sleeps (the deadline tests)."""
    time.sleep(seconds)
    return seconds
