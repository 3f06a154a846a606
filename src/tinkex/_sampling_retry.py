"""How a failed sample is resubmitted: the user's ``RetryConfig``, whose defaults and whose
rules (which errors and statuses) are the manifest's ``sampling`` policy, the one named by
asample's ``resubmit``. A 429 on submission is not one of these: the endpoint's
``backpressure`` rule, which the runtime carries out, waits it out and resends the same
request."""

from __future__ import annotations

import dataclasses

from sdkgen.runtime import (
    APIConnectionError,
    APIStatusError,
    FutureExpiredError,
    RetryPolicy,
    backoff_delay,
)

from ._generated import endpoints as _e
from ._generated.api import API_SPEC

__all__ = ["RESUBMIT_POLICY", "RetryConfig", "resubmittable"]


def _resubmit_policy() -> RetryPolicy:
    name = _e.ASAMPLE.resubmit
    if name is None:  # (make codegen checks that the policy it names exists)
        raise RuntimeError("the manifest's asample names no `resubmit` policy")
    return API_SPEC.retry_policies[name]


#: The manifest's policy for resubmitting a failed sample.
RESUBMIT_POLICY = _resubmit_policy()


def resubmittable(err: BaseException) -> bool:
    """Whether a sample that failed with ``err`` may be submitted again (a new request): a
    connection error or a status the policy lists, or a future the server no longer knows
    (only a new request can bring its result)."""
    if isinstance(err, FutureExpiredError):
        return True
    if isinstance(err, APIConnectionError):
        return RESUBMIT_POLICY.retry_connection_errors
    if isinstance(err, APIStatusError):
        return RESUBMIT_POLICY.should_retry_status(err.status_code or 0)
    return False


@dataclasses.dataclass(frozen=True)
class RetryConfig:
    """How sampling requests are throttled and retried.

    ``progress_timeout``: give up when no sampling request of this client completed for that
    many seconds (stuck detection) while the server keeps answering; a server that cannot be
    reached at all ends a sample much sooner, after the client's ``unreachable_timeout``
    (``ServiceClient(unreachable_timeout=...)``, default 60 s) or ``max_retries`` failures in a
    row. ``max_connections``: sampling requests in flight at once. ``retry_delay_base``,
    ``retry_delay_max`` and ``jitter_factor`` shape the backoff between resubmissions; their
    defaults are the manifest's sampling policy (0.5 s, 10 s, 0.25).

    Example::

        config = RetryConfig(progress_timeout=600.0, retry_delay_max=5.0)
        sampler = service.create_sampling_client(base_model=model, retry_config=config)
    """

    max_connections: int = 400
    progress_timeout: float = 7200.0
    retry_delay_base: float = RESUBMIT_POLICY.initial_delay
    retry_delay_max: float = RESUBMIT_POLICY.max_delay
    jitter_factor: float = RESUBMIT_POLICY.jitter
    enable_retry_logic: bool = True

    def delay(self, attempt: int) -> float:
        """The wait before retry ``attempt + 1``: the runtime's one backoff (``base * 2**attempt``
        capped at ``retry_delay_max``, less up to ``jitter_factor`` of it)."""
        policy = RetryPolicy(
            initial_delay=self.retry_delay_base,
            max_delay=self.retry_delay_max,
            jitter=min(max(self.jitter_factor, 0.0), 1.0),
        )
        return backoff_delay(policy, min(attempt, 64))
