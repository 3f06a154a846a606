"""Rollouts beyond one process: ``tinkex.rollouts.map_rollouts`` on a spawn process pool, and on
Ray when it is installed.

Each item is one "rollout": a few completions of the prompt with a seed of its own, scored by a
toy reward (how many different tokens they use). The sampler goes to the workers without the
API key (``credentials="environment"``: each worker uses its own ``TINKER_API_KEY``); each
worker process builds it once and runs the items of a task at once. The report shows, per
process, how many items and sample requests were in flight at the peak and which limit held
them there.

    python examples/rollouts.py [--workers 2] [--items 8] [--items-per-task 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import multiprocessing
import os
import time

from _common import PROMPT, Example, check, run, section, skip_part

import tinkex as tinker
from tinkex import types
from tinkex.rollouts import RayExecutor, map_rollouts

SAMPLES_PER_ROLLOUT = 2
ROLLOUT_TOKENS = 16  # one shape for every sample: each new one compiles for seconds on CPU


def rollout(sampler: tinker.SamplingClient, item: tuple[list[int], int]) -> dict[str, object]:
    """Runs in a worker: sample the prompt with this item's seed, and score the completions.
    (Module level, and using nothing of ``_common``: spawned workers import this file, Ray's
    get the function by value.)"""
    tokens, seed = item
    params = types.SamplingParams(max_tokens=ROLLOUT_TOKENS, temperature=1.0, seed=seed)
    out = sampler.sample(types.ModelInput.from_ints(tokens), SAMPLES_PER_ROLLOUT, params)
    sequences = out.result(timeout=300).sequences
    reward = sum(len(set(s.tokens)) for s in sequences) / len(sequences)
    return {"seed": seed, "reward": reward, "pid": os.getpid()}


def main(ex: Example) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--items", type=int, default=8)
    parser.add_argument("--items-per-task", type=int, default=2)
    args = parser.parse_args()

    with tinker.ServiceClient(pickle_credentials="environment") as service:
        sampler = service.create_sampling_client(base_model=ex.base_model).result()
        tokens = ex.tokenizer.encode(PROMPT)
        items = [(tokens, seed) for seed in range(args.items)]
        # One sample here first: the server compiles the sampling shape once, not per worker.
        rollout(sampler, items[0])

        section(f"{args.items} rollouts on {args.workers} spawned worker processes")
        context = multiprocessing.get_context("spawn")
        t0 = time.monotonic()
        with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            out = map_rollouts(
                sampler,
                rollout,
                items,
                executor=pool,
                items_per_task=args.items_per_task,
                timeout=600,
            )
        print(f"(with the pool's start-up: {time.monotonic() - t0:.1f}s)")
        show(out.results, out.report, args.items)

        section("the same on Ray")
        if importlib.util.find_spec("ray") is None:
            skip_part("Ray", "ray is not installed (pip install 'tinkex[ray]')")
            return
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        try:
            with RayExecutor() as executor:
                out = map_rollouts(
                    sampler,
                    rollout,
                    items,
                    executor=executor,
                    items_per_task=args.items_per_task,
                    timeout=600,
                )
            show(out.results, out.report, args.items)
        finally:
            ray.shutdown()


def show(results: list[dict[str, object]], report: object, expected: int) -> None:
    for result in results:
        print(f"  seed {result['seed']}: reward {result['reward']:.1f} (pid {result['pid']})")
    print(report)
    check(len(results) == expected, f"{len(results)} results for {expected} items")
    check([r["seed"] for r in results] == list(range(expected)), "results not in the items' order")
    check(os.getpid() not in {r["pid"] for r in results}, "a rollout ran in this process")


if __name__ == "__main__":
    run(main)
