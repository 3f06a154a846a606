"""Rollouts beyond one process: sampling fanned out over a ``concurrent.futures.Executor``
(a spawn process pool, Ray through :class:`RayExecutor`, or threads).

You give a sampler, a function ``fn(sampler, item) -> result`` (plain or ``async def``, at
module level so that workers can import it) and the items. The items go out in tasks of
``items_per_task``, at most ``max_in_flight`` items at a time; each worker process builds the
sampler once per run (from a recipe of a few hundred bytes, with or without the API key, as
chosen by ``credentials`` / ``ServiceClient(pickle_credentials=...)``) and runs a task's items
at once. Results come back in order (:func:`map_rollouts`) or as they complete
(:func:`iter_rollouts`); a failed item raises :class:`RolloutError` with its index and the
worker's traceback; one ``timeout`` bounds the whole run. The report says, per process, how
many items and sample requests were in flight at the peak and which limit held them there:
``items_per_task``, ``max_in_flight``, or the sampler's own limit (``RetryConfig.max_connections``
and the server's ``sample_max_concurrent_requests``).

Example::

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tinkex import types
    from tinkex.rollouts import map_rollouts

    def rollout(sampler, prompt):  # module level: spawned workers import it
        return sampler.sample(prompt, 1, types.SamplingParams(max_tokens=32)).result()

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=ctx) as pool:
        out = map_rollouts(sampler, rollout, prompts, executor=pool, timeout=600)
    print(out.report)  # per process: peak items / requests in flight, the binding limit
"""

from .._sampler_concurrency import SamplerConcurrency
from .._sampler_pickle import PickledCredentialsWarning
from ._errors import RolloutError, RolloutTimeoutError
from ._fanout import RolloutResults, RolloutStream, iter_rollouts, map_rollouts
from ._ray import RayExecutor
from ._report import ProcessConcurrency, RolloutReport

__all__ = [
    "PickledCredentialsWarning",
    "ProcessConcurrency",
    "RayExecutor",
    "RolloutError",
    "RolloutReport",
    "RolloutResults",
    "RolloutStream",
    "RolloutTimeoutError",
    "SamplerConcurrency",
    "iter_rollouts",
    "map_rollouts",
]
