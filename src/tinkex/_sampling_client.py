"""SamplingClient: sampling and prompt logprobs from a base model or saved sampler weights.

Submissions are throttled (a count limit and a byte budget); a 429 on submission opens a
backoff window that every sampler in the process honours, after which the request is sent
again with the same sequence id (asample's ``backpressure`` in the manifest, carried out by
the runtime). Failures the server did not cause are resubmitted, with a new sequence id, with
the backoff of the manifest's sampling policy (asample's ``resubmit``) until no request has made progress for ``RetryConfig.progress_timeout`` seconds, as long as the
server answers (a busy server may keep a sample waiting). A server that cannot be reached at
all (connection refused or reset, DNS, connect timeout) ends the sample with
``ServerUnreachableError`` (an ``APIConnectionError``) after the client's
``unreachable_timeout`` (default 60 s), or after more failures in a row than its
``max_retries`` when that is set.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from sdkgen.runtime import (
    APIFuture,
    ClientFuture,
    ConfigError,
    current_call_headers,
    using_call_headers,
)

from ._generated import models
from ._holder import Holder
from ._public_call import public
from ._sample_stream import SampleStream
from ._sampler_pickle import (
    UnusableSampler,
    sampler_from_state,
    sampler_state,
    warn_if_key_pickled,
)
from ._sampling_base import SamplingBase
from ._sampling_open import new_clone_id, open_sampling_client
from ._sampling_retry import RetryConfig
from ._validation import check_prompt, check_sample_args
from ._wire import compact
from .types import (
    ModelInput,
    SampleResponse,
    SamplingParams,
    TensorData,
)

__all__ = ["RetryConfig", "SamplingClient", "SamplingClientFuture", "open_sampling_client"]

logger = logging.getLogger("tinkex")

_BYTES_PER_TOKEN = 10


class SamplingClient(SamplingBase):
    """Samples from one sampler (base model or saved weights). Picklable into worker processes.

    Example::

        out = sampling_client.sample(prompt, 1, SamplingParams(max_tokens=20)).result()
        print(out.sequences[0].tokens)
    """

    holder: Holder

    # -- sampling ----------------------------------------------------------------------------

    @public
    def sample(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        topk_sample_logprobs: int = 0,
        target_prompt_logprobs: TensorData | None = None,
        prompt_alt_tokens_k: int = 0,
        prompt_logprobs_last_n: int | None = None,
    ) -> APIFuture[SampleResponse]:
        """Sample ``num_samples`` completions of ``prompt``.

        Returns an :class:`APIFuture` (``.result()``, or ``await`` it). In asyncio code,
        ``await sample_async(...)`` does the same on the caller's own event loop, without a
        hand-off to the SDK's loop thread.

        Args:
            prompt: The prompt's tokens (``ModelInput.from_ints``).
            num_samples: Completions to sample (1 to 10,000).
            sampling_params: ``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop``,
                ``seed`` (``SamplingParams``); checked before anything is sent.
            include_prompt_logprobs: Also return the logprob of every prompt token
                (``SampleResponse.prompt_logprobs``).
            topk_prompt_logprobs: Top-k alternatives per prompt position (0: none).
            topk_sample_logprobs: Top-k alternatives per sampled token (0: none).
            target_prompt_logprobs: int64 ``[len(prompt) - 1, K]`` token ids whose prompt
                logprobs are wanted (-1: none at that place).
            prompt_alt_tokens_k: Alternative tokens per prompt position, on servers that
                support it (0: none).
            prompt_logprobs_last_n: Compute prompt logprobs only for the last n positions
                (needs ``include_prompt_logprobs``).

        Returns:
            A future of the ``SampleResponse``: ``sequences`` (tokens, logprobs, stop reason),
                and prompt logprobs when asked for.

        Example::

            params = SamplingParams(max_tokens=20, temperature=0.7, stop=["\\n"])
            out = sampling_client.sample(prompt, 4, params).result()
            texts = [tokenizer.decode(s.tokens) for s in out.sequences]
        """
        request = self._request(
            prompt,
            num_samples,
            sampling_params,
            include_prompt_logprobs,
            topk_prompt_logprobs,
            topk_sample_logprobs,
            target_prompt_logprobs,
            prompt_alt_tokens_k,
            prompt_logprobs_last_n,
        )
        return self.holder.submit(self._sample(request), "sample")

    @public
    async def sample_async(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
        include_prompt_logprobs: bool = False,
        topk_prompt_logprobs: int = 0,
        topk_sample_logprobs: int = 0,
        target_prompt_logprobs: TensorData | None = None,
        prompt_alt_tokens_k: int = 0,
        prompt_logprobs_last_n: int | None = None,
    ) -> SampleResponse:
        """``sample``, run on the caller's event loop (asyncio code): the same request, limits,
        retries and result, without crossing to the SDK's loop thread.

        Args:
            prompt: The prompt's tokens (``ModelInput.from_ints``).
            num_samples: Completions to sample (1 to 10,000).
            sampling_params: ``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop``,
                ``seed`` (``SamplingParams``); checked before anything is sent.
            include_prompt_logprobs: Also return the logprob of every prompt token
                (``SampleResponse.prompt_logprobs``).
            topk_prompt_logprobs: Top-k alternatives per prompt position (0: none).
            topk_sample_logprobs: Top-k alternatives per sampled token (0: none).
            target_prompt_logprobs: int64 ``[len(prompt) - 1, K]`` token ids whose prompt
                logprobs are wanted (-1: none at that place).
            prompt_alt_tokens_k: Alternative tokens per prompt position, on servers that
                support it (0: none).
            prompt_logprobs_last_n: Compute prompt logprobs only for the last n positions
                (needs ``include_prompt_logprobs``).

        Returns:
            The ``SampleResponse`` (awaited; no future).

        Example::

            out = await sampling_client.sample_async(prompt, 1, SamplingParams(max_tokens=20))
        """
        request = self._request(
            prompt,
            num_samples,
            sampling_params,
            include_prompt_logprobs,
            topk_prompt_logprobs,
            topk_sample_logprobs,
            target_prompt_logprobs,
            prompt_alt_tokens_k,
            prompt_logprobs_last_n,
        )
        holder = self.holder
        holder.runner.check_open()
        # The server's flags set the limits: fetched first, on the SDK's loop.
        if holder.features.known_config is None:
            fetch = holder.features.config()
            await (
                fetch
                if holder.runner.loop.in_loop_thread()
                else holder.submit(fetch, "client config")
            )
        return await self._sample(request)

    def _request(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
        include_prompt_logprobs: bool,
        topk_prompt_logprobs: int,
        topk_sample_logprobs: int,
        target_prompt_logprobs: TensorData | None,
        prompt_alt_tokens_k: int,
        prompt_logprobs_last_n: int | None,
    ) -> models.SampleRequest:
        """The request of one ``sample`` call, its arguments checked (before anything is sent)."""
        self._check_open()
        check_sample_args(
            prompt,
            num_samples,
            sampling_params,
            topk_prompt_logprobs,
            topk_sample_logprobs,
            prompt_alt_tokens_k,
            prompt_logprobs_last_n,
            include_prompt_logprobs,
        )
        prompt = prompt if isinstance(prompt, ModelInput) else ModelInput.model_validate(prompt)
        if isinstance(sampling_params.stop, str):
            # One stop string as a one-element list: the same meaning, and every server takes it.
            sampling_params = sampling_params.model_copy(update={"stop": [sampling_params.stop]})
        request = compact(
            models.SampleRequest,
            num_samples=num_samples,
            prompt=prompt,
            sampling_params=sampling_params,
            sampling_session_id=self.sampling_session_id,
            seq_id=0,  # set per submission
            prompt_logprobs=include_prompt_logprobs,
            topk_prompt_logprobs=topk_prompt_logprobs,
            topk_sample_logprobs=topk_sample_logprobs,
            target_prompt_logprobs=target_prompt_logprobs,
            prompt_alt_tokens_k=prompt_alt_tokens_k,
            prompt_logprobs_last_n=prompt_logprobs_last_n,
            record_stability_info=self.record_stability_info,
        )
        return request

    @public
    def sample_stream(
        self,
        prompt: ModelInput,
        num_samples: int,
        sampling_params: SamplingParams,
    ) -> SampleStream:
        """Sample, receiving tokens as they are generated (servers that support streaming).

        Returns a :class:`SampleStream`: iterate it (``for`` or ``async for``); leaving early
        hangs up. A server without streaming raises ``NotImplementedError`` before anything is
        sent; ``sample()`` works everywhere.

        Args:
            prompt: The prompt's tokens.
            num_samples: Completions to sample.
            sampling_params: As for ``sample``.

        Example::

            with sampling_client.sample_stream(prompt, 1, SamplingParams(max_tokens=64)) as stream:
                for chunk in stream:  # types.SampleStreamChunk
                    print(chunk.tokens, end="", flush=True)
        """
        self._check_open()
        check_sample_args(prompt, num_samples, sampling_params)
        if isinstance(sampling_params.stop, str):
            sampling_params = sampling_params.model_copy(update={"stop": [sampling_params.stop]})
        request = compact(
            models.SampleRequest,
            num_samples=num_samples,
            prompt=prompt,
            sampling_params=sampling_params,
            sampling_session_id=self.sampling_session_id,
            seq_id=0,
        )
        holder = self.holder
        call_headers = current_call_headers()  # the stream opens when iterated, after this call

        async def open_stream() -> Any:
            flags = await holder.features.config()
            if not flags.sample_streaming:
                raise NotImplementedError(
                    f"the server at {holder.base_url} does not stream samples (its client config "
                    "does not set sample_streaming); use sample() instead"
                )
            body = request.model_copy(update={"seq_id": self._next_seq()})
            with using_call_headers(call_headers):
                return await holder.api.sampling.sample_stream(request=body)

        return SampleStream(holder, open_stream())

    @public
    def compute_logprobs(
        self, prompt: ModelInput, prompt_logprobs_last_n: int | None = None
    ) -> APIFuture[list[float | None]]:
        """The logprob of each prompt token under the model; the first is ``None``.

        Whatever the server, the list has one entry per prompt token (servers that return one
        fewer, for the first token, are padded).

        Args:
            prompt: The tokens to score.
            prompt_logprobs_last_n: Score only the last n tokens (the others are ``None``).

        Returns:
            A future of the list of logprobs.

        Example::

            logprobs = sampling_client.compute_logprobs(ModelInput.from_ints([1, 2, 3])).result()
        """
        check_prompt(prompt)
        length = prompt.length
        future = self.sample(
            prompt,
            1,
            SamplingParams(max_tokens=1),
            include_prompt_logprobs=True,
            prompt_logprobs_last_n=prompt_logprobs_last_n,
        )

        return future.map(lambda r: _prompt_logprobs(r, length, prompt_logprobs_last_n))

    # -- information and pickling ------------------------------------------------------------

    @public
    def get_base_model(self) -> str:
        """The base model this client samples; ``ValueError`` when the server could not say."""
        if self.base_model is None:
            raise ValueError("this sampler's base model is unknown")
        return self.base_model

    @public
    def get_tokenizer(self) -> Any:
        """The base model's tokenizer (``pip install 'tinkex[tokenizer]'``)."""
        from ._tokenizer import load_tokenizer

        return load_tokenizer(self.get_base_model())

    @public
    def get_telemetry(self) -> Any:
        """The telemetry of this client's connections (add listeners to it)."""
        return self.holder.api.telemetry

    @staticmethod
    @public
    def create(
        holder: Holder,
        *,
        model_path: str | None = None,
        base_model: str | None = None,
        sampling_session_id: str | None = None,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
    ) -> APIFuture[SamplingClient]:
        """A SamplingClient on an existing sampling session, or on a new one.

        Most code uses ``ServiceClient.create_sampling_client`` instead.

        Args:
            holder: The connections and session of a ``ServiceClient`` (``service.holder``).
            model_path: Sampler weights (``tinker://.../sampler_weights/...``) for a new session.
            base_model: A base model for a new session.
            sampling_session_id: An existing sampling session to sample from.
            retry_config: How sampling requests are throttled and retried.
            record_stability_info: Ask the server to record stability information.

        Returns:
            A future of the ``SamplingClient``.
        """
        if sampling_session_id is not None:

            async def existing() -> SamplingClient:
                return SamplingClient(
                    holder,
                    sampling_session_id=sampling_session_id,
                    base_model=base_model,
                    retry_config=retry_config,
                    record_stability_info=record_stability_info,
                    cloned_sampler_id=new_clone_id(),
                )

            return holder.submit(existing(), "sampling client")
        coro = open_sampling_client(
            holder,
            model_path=model_path,
            base_model=base_model,
            retry_config=retry_config,
            record_stability_info=record_stability_info,
        )
        return holder.submit(coro, "sampling client")

    @public
    def get_sampler_handle(self) -> str:
        """A credential-free string another process can turn back into this sampler.

        Example::

            handle = sampling_client.get_sampler_handle()
            # in another process, with TINKER_API_KEY set:
            sampler = SamplingClient.from_sampler_handle(handle)
        """
        state = {
            "base_url": self.holder.base_url,
            "sampling_session_id": self.sampling_session_id,
            "base_model": self.base_model,
            "record_stability_info": self.record_stability_info,
        }
        raw = json.dumps(state, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii")

    @staticmethod
    @public
    def from_sampler_handle(handle: str, *, api_key: str | None = None) -> SamplingClient:
        """The sampler of ``get_sampler_handle``; the key comes from ``api_key`` or the environment.

        The new client has connections of its own: ``close()`` it (or use it in a ``with``
        block) when done.

        Args:
            handle: What ``get_sampler_handle`` returned.
            api_key: The key (default ``$TINKER_API_KEY``, else ``$TINKER_CREDENTIAL_CMD``,
                else the key of ``tinkex auth login``).

        Raises:
            ValueError: ``handle`` is not a sampler handle.
            ConfigError: No key in this process for a server that needs one.
        """
        try:
            state = json.loads(base64.urlsafe_b64decode(handle.encode("ascii")))
        except (ValueError, UnicodeError) as err:
            raise ValueError(
                "not a sampler handle (expected what get_sampler_handle returns)"
            ) from err
        return sampler_from_state(
            {
                "base_url": state["base_url"],
                "api_key": api_key,
                # A handle never carries a key: its pickles do not either, unless one was given.
                "pickle_credentials": None if api_key is not None else "environment",
                "sampling_session_id": state["sampling_session_id"],
                "base_model": state.get("base_model"),
                "retry_config": None,
                "record_stability_info": bool(state.get("record_stability_info")),
            }
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The key goes in or not as the ServiceClient chose (``pickle_credentials``).
        state = sampler_state(self)
        warn_if_key_pickled(state)
        return (_unpickle_sampling_client, (state,))

    @public
    async def compute_logprobs_async(
        self, prompt: ModelInput, prompt_logprobs_last_n: int | None = None
    ) -> list[float | None]:
        """``compute_logprobs`` on the caller's event loop (see ``sample_async``).

        Args:
            prompt: The tokens to score.
            prompt_logprobs_last_n: Score only the last n tokens (the others are ``None``).

        Returns:
            The list of logprobs, one per prompt token (awaited; no future).
        """
        check_prompt(prompt)
        response = await self.sample_async(
            prompt,
            1,
            SamplingParams(max_tokens=1),
            include_prompt_logprobs=True,
            prompt_logprobs_last_n=prompt_logprobs_last_n,
        )
        return _prompt_logprobs(response, prompt.length, prompt_logprobs_last_n)

    @public
    async def get_base_model_async(self) -> str:
        """``get_base_model`` for asyncio code."""
        return self.get_base_model()


def _unpickle_sampling_client(state: dict[str, Any]) -> SamplingClient:
    """A pickled sampling client, rebuilt in this process (``sampler_from_state``). Where it
    cannot be (no key here), an ``UnusableSampler`` whose every use raises why: raising here
    would kill a process pool's worker instead of failing the task."""
    try:
        return sampler_from_state(state)
    except ConfigError as err:
        logger.warning("an unpickled SamplingClient cannot be used: %s", err)
        # Typed as the client: what the task sees on first use is the ConfigError.
        return UnusableSampler(err, state)  # type: ignore[return-value]


def _prompt_logprobs(
    response: SampleResponse, length: int, last_n: int | None
) -> list[float | None]:
    """One entry per prompt token (servers that leave out the first one are padded)."""
    logprobs = list(response.prompt_logprobs or [])
    if last_n is None and len(logprobs) == length - 1:
        logprobs = [None, *logprobs]
    return logprobs


class SamplingClientFuture(ClientFuture[SamplingClient]):
    """A SamplingClient being created (``.result()``; client methods also work on it)."""

    def __init__(self, future: APIFuture[SamplingClient]) -> None:
        super().__init__(future, "sampling client")
