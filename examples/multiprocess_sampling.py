"""Sampling from worker processes with a pickled SamplingClient.

A ``SamplingClient`` pickles into a small recipe (server, sampling session, settings); the copy
in a worker opens its own connections and numbers its requests apart from every other copy, so
many processes can sample from one sampler. The pool here uses the ``spawn`` start method (safe
with the SDK's background thread), a bounded number of workers and a deadline on every result.
``get_sampler_handle()`` gives a credential-free string for the same purpose: the worker takes
the API key from its own environment. The pickle itself carries the key unless the ServiceClient
was made with ``pickle_credentials="environment"`` (the first such pickle warns; see
``examples/rollouts.py`` and ``tinkex.rollouts`` for the helper that fans sampling out).

    python examples/multiprocess_sampling.py [--workers 2] [--tasks 4]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import pickle
import time

from _common import MAX_TOKENS, PROMPT, Example, check, run, section

import tinkex as tinker
from tinkex import types

TASK_TIMEOUT = 180.0


def sample_in_worker(
    sampler: tinker.SamplingClient, tokens: list[int], seed: int
) -> tuple[int, list[int]]:
    """Runs in a worker process: ``sampler`` arrives unpickled, with connections of its own."""
    with sampler:  # closes the worker's connections when done
        params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, seed=seed)
        out = sampler.sample(types.ModelInput.from_ints(tokens), 1, params).result(timeout=120)
    return os.getpid(), out.sequences[0].tokens


def sample_from_handle(handle: str, tokens: list[int]) -> tuple[int, list[int]]:
    """Runs in a worker process: a sampler rebuilt from a handle (the key from TINKER_API_KEY)."""
    with tinker.SamplingClient.from_sampler_handle(handle) as sampler:
        params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)
        out = sampler.sample(types.ModelInput.from_ints(tokens), 1, params).result(timeout=120)
    return os.getpid(), out.sequences[0].tokens


def main(ex: Example) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=4)
    args = parser.parse_args()

    with tinker.ServiceClient() as service:
        sampler = service.create_sampling_client(base_model=ex.base_model).result()
        tokens = ex.tokenizer.encode(PROMPT)
        params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)
        here = sampler.sample(types.ModelInput.from_ints(tokens), 1, params).result()
        expected = here.sequences[0].tokens
        print(f"in this process (pid {os.getpid()}): {ex.tokenizer.decode(expected)!r}")
        print(f"the pickled sampler is {len(pickle.dumps(sampler))} bytes")

        section(f"{args.tasks} tasks on {args.workers} spawned worker processes")
        t0 = time.monotonic()
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
            futures = [
                pool.submit(sample_in_worker, sampler, tokens, seed) for seed in range(args.tasks)
            ]
            futures.append(pool.submit(sample_from_handle, sampler.get_sampler_handle(), tokens))
            _, pending = concurrent.futures.wait(futures, timeout=TASK_TIMEOUT)
            for fut in pending:
                fut.cancel()
            check(not pending, f"{len(pending)} task(s) did not finish in {TASK_TIMEOUT:.0f}s")
            pids = set()
            for i, fut in enumerate(futures):
                pid, got = fut.result()
                pids.add(pid)
                how = "handle " if i == args.tasks else "pickled"
                print(f"  task {i} ({how}) in pid {pid}: {ex.tokenizer.decode(got)!r}")
                check(got == expected, f"task {i}: greedy sample differs from this process's")
        print(
            f"{len(futures)} samples from {len(pids)} worker process(es) in "
            f"{time.monotonic() - t0:.1f}s, all equal to the greedy sample here"
        )
        check(os.getpid() not in pids, "a task ran in the parent process")


if __name__ == "__main__":
    run(main)
