"""What a SamplingClient is made of, and how it gets one sample: its sampling session, the admission limits, submission in sequence-id order with the retries of RetryConfig, and the wait for the result."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Self

from sdkgen.runtime import (
    APIConnectionError,
    APIStatusError,
    ClientClosedError,
    FutureExpiredError,
    Reachability,
    RetryInfo,
)

from ._admission import Admission
from ._fork_hooks import after_fork_in_child
from ._generated import endpoints as _e, models
from ._holder import Holder
from ._public_call import public
from ._sample_results_poller import SampleResultsPoller, poller_for
from ._sampler_concurrency import SamplerConcurrency
from ._sampling_open import CLONE_SEQ_STRIDE, new_clone_id
from ._sampling_retry import RetryConfig, resubmittable
from ._validation import check_fits_context
from .types import (
    ModelInput,
    SampleResponse,
)

logger = logging.getLogger("tinkex")
_BYTES_PER_TOKEN = 10

__all__ = ["SamplingBase"]


class SamplingBase:
    """The state and the sampling engine of SamplingClient (see ``_sampling_client``)."""

    def __init__(
        self,
        holder: Holder,
        *,
        sampling_session_id: str,
        base_model: str | None,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
        cloned_sampler_id: int = 0,
        owns_holder: bool = False,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.holder = holder
        self._owns_holder = owns_holder
        # A holder shared with other unpickled copies: given back (closed by the last one).
        self._release = release
        self._closed = False
        self.sampling_session_id = sampling_session_id
        self.base_model = base_model
        self.retry_config = retry_config or RetryConfig()
        self.record_stability_info = record_stability_info
        self.cloned_sampler_id = cloned_sampler_id
        # ``next`` on a count is atomic: seq ids stay unique when several threads sample at once.
        self._seq = itertools.count(CLONE_SEQ_STRIDE * cloned_sampler_id)
        self._admission: Admission | None = None  # built from the server's flags on first use
        self._progress_lock = threading.Lock()
        self._last_progress = time.monotonic()
        self._inflight = 0
        self._peak_inflight = 0
        self._requests = 0
        after_fork_in_child(self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """In a child of fork(): a clone id of its own, so its seq ids stay apart from the
        parent's, and fresh admission state (its locks and waiters were the parent's)."""
        self.cloned_sampler_id = new_clone_id()
        self._seq = itertools.count(CLONE_SEQ_STRIDE * self.cloned_sampler_id)
        self._admission = None
        self._progress_lock = threading.Lock()
        self._inflight = 0
        self._peak_inflight = 0
        self._requests = 0

    def __repr__(self) -> str:
        return f"SamplingClient(sampling_session_id={self.sampling_session_id!r})"

    @public
    def close(self) -> None:
        """Close a sampler that has connections of its own (unpickled, or made from a handle;
        the copies of one process share them, closed with the last copy); one made by a
        ServiceClient closes with it."""
        if self._closed or not (self._owns_holder or self._release is not None):
            return
        self._closed = True
        if self._release is not None:
            self._release()
        else:
            self.holder.close(status=None)

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError(
                "this SamplingClient is closed (close(), or the end of its with block)"
            )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        return next(self._seq)

    async def _sample(self, request: models.SampleRequest) -> SampleResponse:
        config = self.retry_config
        prompt_tokens = _prompt_length(request)
        await check_fits_context(
            self.holder, self.base_model, prompt_tokens, request.sampling_params.max_tokens
        )
        with self._progress_lock:
            if self._inflight == 0:  # progress is measured from the oldest request in flight
                self._last_progress = time.monotonic()
            self._inflight += 1
            self._requests += 1
            self._peak_inflight = max(self._peak_inflight, self._inflight)
        try:
            return await self._sample_retrying(request, prompt_tokens, config, 0)
        finally:
            with self._progress_lock:
                self._inflight -= 1

    async def _sample_retrying(
        self, request: models.SampleRequest, prompt_tokens: int, config: RetryConfig, attempt: int
    ) -> SampleResponse:
        api_config = self.holder.api.config
        reach = Reachability(api_config.unreachable_timeout, api_config.max_retries)
        while True:
            try:
                result = await self._sample_once(request, prompt_tokens)
            except (APIConnectionError, FutureExpiredError, APIStatusError) as err:
                if not (config.enable_retry_logic and resubmittable(err)):
                    raise
                if isinstance(err, APIStatusError):
                    reach.answered()
                # A server that cannot be reached ends the sample within the budget (raises),
                # however long progress_timeout is: that one is for a busy server.
                reach.failed(err, what=f"a sample on {self.sampling_session_id}")
                stalled = time.monotonic() - self._last_progress
                if stalled > config.progress_timeout:
                    raise APIConnectionError(
                        f"no sampling request made progress in {config.progress_timeout:g}s; "
                        f"giving up (last error: {err})",
                        endpoint="asample",
                    ) from err
                delay = config.delay(attempt)
                if (left := reach.remaining()) is not None:
                    delay = min(delay, left)  # try once more at the end of the budget, not after
                attempt += 1
                self._report_retry(attempt, delay, err)
                await asyncio.sleep(delay)
                continue
            self._last_progress = time.monotonic()
            return result

    def _report_retry(self, attempt: int, wait: float, cause: Exception) -> None:
        """Resubmissions are the client's own (the runtime never resends asample after a
        failure): report them like every other retry, to listeners and the ``on_retry`` hook."""
        info = RetryInfo(
            endpoint=_e.ASAMPLE.id, attempt=attempt, wait=wait, cause=cause, elapsed=0.0
        )
        self.holder.api.report_retry(_e.ASAMPLE, info)

    @public
    def concurrency(self) -> SamplerConcurrency:
        """How many samples this client has had in flight, and the limits on them (a
        snapshot; see :class:`~tinkex.rollouts.SamplerConcurrency`). Sends nothing.

        Example::

            stats = sampler.concurrency()
            print(stats.peak_in_flight, stats.limit, stats.submissions_waited)
        """
        flags = self.holder.features.known_config
        admission = self._admission
        client_limit = self.retry_config.max_connections
        server_limit = flags.sample_max_concurrent_requests if flags is not None else None
        with self._progress_lock:
            in_flight, peak, requests = self._inflight, self._peak_inflight, self._requests
        return SamplerConcurrency(
            requests=requests,
            in_flight=in_flight,
            peak_in_flight=peak,
            submissions_waited=admission.waits if admission is not None else 0,
            limit=min(client_limit, server_limit) if server_limit is not None else client_limit,
            client_limit=client_limit,
            server_limit=server_limit,
            byte_budget=flags.sample_dispatch_bytes_semaphore_size if flags is not None else None,
        )

    def _limits(self) -> Admission:
        """The count and byte limits of this client, shared by sample() and sample_async()."""
        if self._admission is None:
            flags = self.holder.features.known_config or models.ClientConfigResponse()
            in_flight = min(self.retry_config.max_connections, flags.sample_max_concurrent_requests)
            with self._progress_lock:
                if self._admission is None:
                    self._admission = Admission(
                        in_flight, flags.sample_dispatch_bytes_semaphore_size
                    )
        return self._admission

    async def _sample_once(
        self, request: models.SampleRequest, prompt_tokens: int
    ) -> SampleResponse:
        nbytes = prompt_tokens * _BYTES_PER_TOKEN
        seq_id = self._next_seq()
        body = request.model_copy(update={"seq_id": seq_id})
        async with self._limits().hold(nbytes):
            # A 429 is waited out and the same request (seq id) sent again by the runtime
            # (asample's backpressure rule), within this hold.
            submitted = await self.holder.api.sampling.asample(
                request=body, on_queue_state=self.on_queue_state_change
            )
        handle = submitted.result_as(SampleResponse)
        poller = await self._sample_results_poller()
        try:
            if poller is not None:  # the session-wide long poll says when the result is ready
                await poller.wait(handle.request_id, self.holder.runner.result_timeout)
            result = await handle.result()
        except asyncio.CancelledError:
            # Nobody wants this sample any more: let the server stop working on it too.
            self.holder.cancels.request(handle.request_id)
            raise
        finally:
            if poller is not None:  # fetched or given up: the server may drop the payload
                poller.retrieved(handle.request_id)
        ids = handle.submission.sample_sequence_ids or []
        for sequence, sequence_id in zip(result.sequences, ids, strict=False):
            sequence.sequence_id = sequence_id
        return result

    async def _sample_results_poller(self) -> SampleResultsPoller | None:
        """This session's ``retrieve_futures`` poller, where the server's client config asks
        for it (``sample_use_retrieve_futures``); else None, and each sample polls its own
        future. (The flags are cached: fetched with the session, or by ``sample_async``.)"""
        flags = await self.holder.features.config()
        if not flags.sample_use_retrieve_futures:
            return None
        return poller_for(
            self.holder,
            self.sampling_session_id,
            self.cloned_sampler_id,
            pause_cap=flags.billing_exception_max_pause_duration_sec,
        )

    def on_queue_state_change(self, queue_state: str, queue_state_reason: str | None) -> None:
        """Called when the server reports a new queue state; override to react. Logs pauses.

        Args:
            queue_state: The state, such as ``"active"`` or ``"paused_rate_limit"``.
            queue_state_reason: The server's explanation, when it gives one.
        """
        if queue_state.startswith("paused"):
            logger.warning(
                "sampling on %s is queued (%s)%s",
                self.sampling_session_id,
                queue_state,
                f": {queue_state_reason}" if queue_state_reason else "",
            )


def _prompt_length(request: models.SampleRequest) -> int:
    prompt = request.prompt
    return (
        prompt.length
        if isinstance(prompt, ModelInput)
        else ModelInput.model_validate(prompt.model_dump()).length
    )
