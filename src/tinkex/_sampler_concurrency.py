"""What one SamplingClient has in flight, and the limits on it: the numbers behind
``SamplingClient.concurrency()`` and the per-process report of ``tinkex.rollouts``."""

from __future__ import annotations

import dataclasses

__all__ = ["SamplerConcurrency"]


@dataclasses.dataclass(frozen=True)
class SamplerConcurrency:
    """How many samples one ``SamplingClient`` had in flight, and which limits applied.

    A sample is *in flight* from the call (``sample``, ``sample_async``, ``compute_logprobs``)
    to its result, retries included. Only its *submission* (the ``asample`` request) holds a
    place under the client's limits: at most ``limit`` submissions, and ``byte_budget`` bytes of
    prompts, at once; a submission that found them full waited (``submissions_waited``). Waiting
    for the result holds no place, so ``peak_in_flight`` may exceed ``limit``.

    Attributes:
        requests: Samples started by this client.
        in_flight: Samples started and not yet finished.
        peak_in_flight: The most samples in flight at once.
        submissions_waited: Submissions that waited for a place under ``limit`` or
            ``byte_budget``; 0 means the client's limits never held anything back.
        limit: Submissions at once: the smaller of ``client_limit`` and ``server_limit``.
        client_limit: ``RetryConfig.max_connections`` of this client.
        server_limit: ``sample_max_concurrent_requests`` of the server's client config (its
            default, 2,000, on servers without one); None until the first sample asked.
        byte_budget: Prompt bytes of submissions at once (the server's
            ``sample_dispatch_bytes_semaphore_size``); None until the first sample asked.

    Example::

        stats = sampler.concurrency()
        if stats.submissions_waited:
            print(f"the client's limit of {stats.limit} held submissions back")
    """

    requests: int
    in_flight: int
    peak_in_flight: int
    submissions_waited: int
    limit: int
    client_limit: int
    server_limit: int | None
    byte_budget: int | None
