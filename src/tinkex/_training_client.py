"""TrainingClient: forward/backward passes, optimizer steps and checkpoints of one training run.

Every method returns an :class:`APIFuture` at once; requests are submitted in sequence-id order
(even when called from several threads), and their results are polled concurrently, so a
``forward_backward`` and an ``optim_step`` can be submitted back to back and then awaited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sdkgen.runtime import (
    AmbiguousOutcomeError,
    APIFuture,
    APIResponseValidationError,
    AsyncFutureHandle,
)

from ._chunking import chunk_data, merge_outputs
from ._client_loss import with_client_loss
from ._fwdbwd_wire import ForwardBackwardWire
from ._generated import models
from ._holder import Holder
from ._ordering import Turnstile
from ._public_call import awaited_twin, future_twin, public
from ._queue import QueueStateLogger
from ._tinker_paths import check_tinker_path, normalize_path
from ._validation import (
    allowing_nonfinite,
    check_checkpoint_name,
    check_datum_values,
    check_datums,
    check_optim_params,
)
from ._wire import compact
from .types import (
    AdamParams,
    Datum,
    DimuonParams,
    ForwardBackwardOutput,
    GetInfoResponse,
    LoadWeightsResponse,
    LossFnType,
    OptimStepResponse,
    SaveWeightsForSamplerResponse,
    SaveWeightsResponse,
)
from .types._tensor import require

if TYPE_CHECKING:
    from ._generated.training import AsyncTraining
    from ._sampling_client import RetryConfig, SamplingClient, SamplingClientFuture

__all__ = ["TrainingClient"]

logger = logging.getLogger("tinkex")

H = TypeVar("H")
R = TypeVar("R")
OptimParams = AdamParams | DimuonParams
CustomLossFn = Callable[[list[Datum], list[Any]], tuple[Any, dict[str, float]]]


class TrainingClient:
    """A LoRA training run. Create it with ``ServiceClient.create_lora_training_client``.

    Its requests are applied by the server in the order they were submitted, whatever order
    their results are waited for in: submit a step's ``forward_backward`` and ``optim_step``
    together, then wait.

    Example::

        fb = training_client.forward_backward(data, "cross_entropy")
        step = training_client.optim_step(AdamParams(learning_rate=1e-4))
        print(fb.result().metrics["loss:sum"], step.result())
    """

    holder: Holder

    def __init__(
        self,
        holder: Holder,
        model_seq_id: int,
        model_id: str,
        *,
        info: GetInfoResponse | None = None,
    ) -> None:
        self.holder = holder
        self.model_seq_id = model_seq_id
        self.model_id = model_id
        self._info = info
        self._turnstile = Turnstile(first=1)  # seq 0 was the model's creation
        self._forks = holder.runner.forks  # a child of fork() cannot go on numbering its requests
        self._queue_logger = QueueStateLogger(f"training run {model_id}")
        self._wire = ForwardBackwardWire(
            holder.api, model_id, compress=self._compress_fwdbwd, observer=self._queue_logger
        )

    def __repr__(self) -> str:
        return f"TrainingClient(model_id={self.model_id!r})"

    # -- helpers -----------------------------------------------------------------------------

    def _submit(self, coro: Any, what: str) -> APIFuture[Any]:
        try:
            self.holder.runner.refuse_after_fork(self._forks, f"TrainingClient {self.model_id}")
        except BaseException:
            coro.close()
            raise
        return self.holder.submit(coro, f"{what} ({self.model_id})")

    @property
    def _training(self) -> AsyncTraining:
        """The generated training endpoints, on the client's current API connection."""
        return self.holder.api.training

    def _ambiguous(self, err: AmbiguousOutcomeError, seq_id: int) -> AmbiguousOutcomeError:
        err.detail = f"{err.detail} [model {self.model_id}, seq id {seq_id}]"
        return err

    async def _guarded(self, seq_id: int, submission: Awaitable[H]) -> H:
        """Await a submission; its errors say which model and seq id they are about."""
        try:
            return await submission
        except AmbiguousOutcomeError as err:
            raise self._ambiguous(err, seq_id) from err.__cause__
        except APIResponseValidationError as err:
            # A 2xx the client cannot read: the server accepted the request, so it was applied.
            err.detail = (
                f"{err.detail} [model {self.model_id}, seq id {seq_id}: the server accepted the "
                "request, so it was applied; do not resend it]"
            )
            raise

    def _single(
        self,
        what: str,
        send: Callable[[int], Awaitable[AsyncFutureHandle[Any, R]]],
        convert: Callable[[R], Any] = lambda x: x,
    ) -> APIFuture[Any]:
        """Reserve one seq id now; ``send(seq_id)`` (a generated method's call) when its turn
        comes; poll for the result."""
        seq_id = self._turnstile.reserve(1)

        async def run() -> Any:
            async with self._turnstile.turn(seq_id, 1):
                handle = await self._guarded(seq_id, send(seq_id))
            return convert(await handle.result())

        return self._submit(run(), what)

    # -- forward / backward ------------------------------------------------------------------

    def _prepare(self, data: Sequence[Datum | Mapping[str, Any]]) -> list[Datum]:
        if not data:
            raise ValueError("No data provided: pass at least one Datum")
        return [d if isinstance(d, Datum) else Datum.model_validate(d) for d in data]

    def _limits(self) -> tuple[int, int]:
        config = self.holder.features.known_config or models.ClientConfigResponse()
        return config.fwdbwd_max_chunk_len, config.fwdbwd_max_chunk_bytes_count

    def _fwdbwd(
        self,
        data: Sequence[Datum | Mapping[str, Any]],
        loss_fn: LossFnType,
        loss_fn_config: Mapping[str, float | str] | None,
        *,
        forward_only: bool,
        allow_nonfinite: bool = False,
    ) -> APIFuture[ForwardBackwardOutput]:
        datums = self._prepare(data)
        chunks = chunk_data(datums, *self._limits())
        config = dict(loss_fn_config) if loss_fn_config is not None else None
        # Checked and encoded here, before any seq id is taken: bad input fails now, sends nothing.
        with allowing_nonfinite(allow_nonfinite):  # values are checked as they are packed
            check_datums(datums, loss_fn, config)
            bodies = self._wire.encode(chunks, loss_fn, config, forward_only=forward_only)
            if bodies[0] is None:  # JSON packs nothing: its values are checked here
                check_datum_values(datums)
        first = self._turnstile.reserve(len(chunks))
        return self._submit(
            with_client_loss(
                lambda: self._run_chunks(chunks, first, loss_fn, config, forward_only, bodies),
                datums,
                loss_fn,
                config,
            ),
            "forward" if forward_only else "forward_backward",
        )

    async def _run_chunks(
        self,
        chunks: list[list[Datum]],
        first: int,
        loss_fn: LossFnType,
        loss_fn_config: dict[str, Any] | None,
        forward_only: bool,
        bodies: list[Any] | None = None,
    ) -> ForwardBackwardOutput:
        if bodies is None:
            bodies = self._wire.encode(chunks, loss_fn, loss_fn_config, forward_only=forward_only)
        handles = []
        async with self._turnstile.turn(first, len(chunks)):
            for i, (chunk, body) in enumerate(zip(chunks, bodies, strict=True)):
                seq_id = first + i
                send = self._wire.send(chunk, body, seq_id, loss_fn, loss_fn_config, forward_only)
                handles.append(await self._guarded(seq_id, send))
        outputs = [await h.result() for h in handles]
        return merge_outputs(outputs, [len(c) for c in chunks])

    def _compress_fwdbwd(self) -> bool:
        config = self.holder.features.known_config
        return config is not None and config.proto_compress_fwdbwd

    @public
    def forward(
        self,
        data: Sequence[Datum],
        loss_fn: LossFnType,
        loss_fn_config: Mapping[str, float | str] | None = None,
        *,
        allow_nonfinite: bool = False,
    ) -> APIFuture[ForwardBackwardOutput]:
        """Run the model on ``data`` without computing gradients (logprobs and loss).

        Bad data fails here and sends nothing (see ``forward_backward``).

        Args:
            data: The datums: a model input and the inputs its loss needs
                (``target_tokens``, ``weights``, ...). Batches larger than the server takes in
                one request are split and their outputs merged, in order.
            loss_fn: The loss to evaluate: ``"cross_entropy"``, ``"importance_sampling"``,
                ``"ppo"``, ... (``types.LossFnType``).
            loss_fn_config: Settings of the loss, when it takes any.
            allow_nonfinite: Send NaN or infinity in float inputs instead of refusing them.

        Returns:
            A future of the ``ForwardBackwardOutput``: per-datum outputs (such as
                ``logprobs``) and metrics.

        Example::

            out = training_client.forward(data, "cross_entropy").result()
            logprobs = out.loss_fn_outputs[0]["logprobs"].to_numpy()
        """
        return self._fwdbwd(
            data, loss_fn, loss_fn_config, forward_only=True, allow_nonfinite=allow_nonfinite
        )

    @public
    def forward_backward(
        self,
        data: Sequence[Datum],
        loss_fn: LossFnType,
        loss_fn_config: Mapping[str, float | str] | None = None,
        *,
        allow_nonfinite: bool = False,
    ) -> APIFuture[ForwardBackwardOutput]:
        """Compute the loss and accumulate its gradients; large batches are sent in chunks.

        The data is checked before anything is sent (a ``ValueError`` names the datum and
        field): the inputs the loss needs are present, per-token inputs are as long as the
        model input, target tokens are integers and token ids in ``0 <= id < 2**31``, and no
        float input holds NaN or infinity, unless ``allow_nonfinite=True`` says this call means
        to send them.

        Args:
            data: The datums: a model input and the inputs its loss needs
                (``target_tokens``, ``weights``, ...). Batches larger than the server takes in
                one request are split and their outputs merged, in order.
            loss_fn: The loss: ``"cross_entropy"``, ``"importance_sampling"``, ``"ppo"``, ...
                (``types.LossFnType``); ``"custom"`` with ``{"loss_id": ...}`` for a loss made
                by ``ServiceClient.create_custom_loss``.
            loss_fn_config: Settings of the loss, when it takes any.
            allow_nonfinite: Send NaN or infinity in float inputs instead of refusing them.

        Returns:
            A future of the ``ForwardBackwardOutput``: per-datum outputs and the loss metrics.

        Example::

            fb = training_client.forward_backward(data, "cross_entropy")
        """
        return self._fwdbwd(
            data, loss_fn, loss_fn_config, forward_only=False, allow_nonfinite=allow_nonfinite
        )

    @public
    def forward_backward_custom(
        self,
        data: Sequence[Datum],
        loss_fn: CustomLossFn,
        *,
        loss_type_input: Any = None,
    ) -> APIFuture[ForwardBackwardOutput]:
        """A loss computed here with torch on the model's logprobs; its gradients are sent back.

        ``loss_fn(data, logprobs)`` gets one float tensor of logprobs per datum (requires_grad)
        and returns ``(scalar loss tensor, metrics)``. Needs ``pip install 'tinkex[torch]'``.
        Two passes go to the server: a forward for the logprobs, then a backward with the
        gradients of your loss.

        Args:
            data: The datums, as for ``forward_backward``.
            loss_fn: The loss function, or a ``LossHandle`` from
                ``ServiceClient.create_custom_loss``.
            loss_type_input: Accepted for the official SDK's signature; not used.

        Returns:
            A future of the ``ForwardBackwardOutput``, with your loss's metrics.

        Example::

            def loss_fn(data, logprobs):
                loss = -sum(lp.sum() for lp in logprobs)
                return loss, {"loss": float(loss)}

            out = training_client.forward_backward_custom(data, loss_fn).result()
        """
        from ._compat import LossHandle
        from ._custom_loss import run_custom_loss, surrogate_data

        if isinstance(loss_fn, LossHandle) and loss_fn.fn is None:
            if loss_fn.loss_id is None:
                raise ValueError(f"loss {loss_fn.name!r} has neither a function nor a loss_id")
            return self.forward_backward(data, "custom", {"loss_id": loss_fn.loss_id})
        require("torch")
        datums = self._prepare(data)
        chunks = chunk_data(surrogate_data(datums), *self._limits())
        # Ids for both passes now, so that nothing the user calls next lands between them.
        first = self._turnstile.reserve(2 * len(chunks))
        return self._submit(
            run_custom_loss(
                self._run_chunks, datums, loss_fn, chunks, first, self._turnstile.give_up
            ),
            "forward_backward_custom",
        )

    # -- optimizer ---------------------------------------------------------------------------

    @public
    def optim_step(
        self, optim_params: OptimParams | None = None, *, adam_params: AdamParams | None = None
    ) -> APIFuture[OptimStepResponse]:
        """Apply one optimizer step with the gradients accumulated so far.

        Args:
            optim_params: The step's hyper-parameters: ``AdamParams`` (the default, with its
                defaults) or ``DimuonParams``, matching the run's optimizer.
            adam_params: The same as ``optim_params``, under the official SDK's older name;
                pass one of the two.

        Returns:
            A future of the ``OptimStepResponse`` (the optimizer's metrics).

        Example::

            training_client.optim_step(AdamParams(learning_rate=1e-4)).result()
        """
        if optim_params is not None and adam_params is not None:
            raise ValueError("pass optim_params or adam_params, not both")
        params = optim_params if optim_params is not None else adam_params
        if params is None:
            params = AdamParams()
        if not isinstance(params, AdamParams | DimuonParams):
            raise TypeError(
                f"optim_params must be AdamParams or DimuonParams, not {type(params).__name__}"
            )
        check_optim_params(params)

        def send(seq_id: int) -> Awaitable[AsyncFutureHandle[Any, OptimStepResponse]]:
            if isinstance(params, DimuonParams):
                body = compact(
                    models.OptimStepRequest,
                    model_id=self.model_id,
                    seq_id=seq_id,
                    optimizer_params=params,
                )
            else:
                body = compact(
                    models.OptimStepRequest,
                    model_id=self.model_id,
                    seq_id=seq_id,
                    adam_params=params,
                )
            return self._training.optim_step(request=body, on_queue_state=self._queue_logger)

        return self._single("optim_step", send)

    # -- checkpoints -------------------------------------------------------------------------

    @public
    def save_state(
        self,
        name: str,
        ttl_seconds: int | None = None,
        overwrite: bool = False,
        user_metadata: dict[str, str] | None = None,
    ) -> APIFuture[SaveWeightsResponse]:
        """Save weights and optimizer state as ``tinker://<run>/weights/<name>`` (resumable).

        Args:
            name: The checkpoint's name: ``[A-Za-z0-9_.-]``, 1 to 255 characters, not starting
                with ``.``.
            ttl_seconds: When it expires, in seconds from now (``None``: never).
            overwrite: Replace an existing checkpoint of the same name.
            user_metadata: Stored with the checkpoint.

        Returns:
            A future of the ``SaveWeightsResponse``, whose ``path`` is the checkpoint's
                ``tinker://`` path.

        Example::

            path = training_client.save_state("step-100").result().path
        """
        check_checkpoint_name(name)
        return self._single(
            "save_state",
            lambda seq_id: self._training.save_weights(
                request=compact(
                    models.SaveWeightsRequest,
                    model_id=self.model_id,
                    path=name,
                    seq_id=seq_id,
                    ttl_seconds=ttl_seconds,
                    overwrite=overwrite,
                    user_metadata=user_metadata,
                ),
                on_queue_state=self._queue_logger,
            ),
            lambda r: r.model_copy(update={"path": normalize_path(r.path, "weights")}),
        )

    def _load(
        self, path: str, optimizer: bool, weights_access_token: str | None
    ) -> APIFuture[LoadWeightsResponse]:
        check_tinker_path(path)
        return self._single(
            "load_state_with_optimizer" if optimizer else "load_state",
            lambda seq_id: self._training.load_weights(
                request=compact(
                    models.LoadWeightsRequest,
                    model_id=self.model_id,
                    seq_id=seq_id,
                    path=path,
                    optimizer=optimizer,
                    weights_access_token=weights_access_token,
                ),
                on_queue_state=self._queue_logger,
            ),
        )

    @public
    def load_state(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """Load weights (not the optimizer state) from a ``tinker://.../weights/...`` path.

        Args:
            path: A state saved by ``save_state``.
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the ``LoadWeightsResponse``.
        """
        return self._load(path, False, weights_access_token)

    @public
    def load_state_with_optimizer(
        self, path: str, weights_access_token: str | None = None
    ) -> APIFuture[LoadWeightsResponse]:
        """Load weights and optimizer state from a ``tinker://.../weights/...`` path.

        Args:
            path: A state saved by ``save_state``.
            weights_access_token: A token for weights shared by another user.

        Returns:
            A future of the ``LoadWeightsResponse``.
        """
        return self._load(path, True, weights_access_token)

    @public
    def save_weights_for_sampler(
        self, name: str, ttl_seconds: int | None = None, user_metadata: dict[str, str] | None = None
    ) -> APIFuture[SaveWeightsForSamplerResponse]:
        """Save sampler weights as ``tinker://<run>/sampler_weights/<name>`` (persistent).

        Args:
            name: The checkpoint's name (as for ``save_state``).
            ttl_seconds: When it expires, in seconds from now (``None``: never).
            user_metadata: Stored with the checkpoint.

        Returns:
            A future of the ``SaveWeightsForSamplerResponse``, whose ``path`` is what
                ``create_sampling_client`` takes.

        Example::

            path = training_client.save_weights_for_sampler("final").result().path
            sampler = training_client.create_sampling_client(path).result()
        """
        check_checkpoint_name(name)

        def convert(result: models.SaveWeightsForSamplerResponseInternal) -> Any:
            if not result.path:
                raise ValueError("the server saved sampler weights but returned no path")
            return SaveWeightsForSamplerResponse(
                path=normalize_path(result.path, "sampler_weights")
            )

        return self._single(
            "save_weights_for_sampler",
            lambda seq_id: self._training.save_weights_for_sampler(
                request=compact(
                    models.SaveWeightsForSamplerRequest,
                    model_id=self.model_id,
                    path=name,
                    seq_id=seq_id,
                    ttl_seconds=ttl_seconds,
                    user_metadata=user_metadata,
                ),
                on_queue_state=self._queue_logger,
            ),
            convert,
        )

    @public
    def save_weights_external(
        self,
        name: str,
        ttl_seconds: int | None = None,
        age_encryption_recipients: list[str] | None = None,
    ) -> APIFuture[models.SaveWeightsExternalResponse]:
        """Export the weights in Hugging Face format as ``tinker://<run>/external_weights/<name>``.

        Args:
            name: The export's name (as for ``save_state``).
            ttl_seconds: When it expires, in seconds from now (``None``: never).
            age_encryption_recipients: Up to 10 age public keys to encrypt the export for.

        Returns:
            A future of the ``SaveWeightsExternalResponse`` with the export's path; its files
                are listed by ``RestClient.get_external_weights_urls``.
        """
        check_checkpoint_name(name)

        def convert(result: models.SaveWeightsExternalResponseInternal) -> Any:
            if not result.path:
                raise ValueError("the server exported weights but returned no path")
            return models.SaveWeightsExternalResponse(path=result.path)

        return self._single(
            "save_weights_external",
            lambda seq_id: self._training.save_weights_external(
                request=compact(
                    models.SaveWeightsExternalRequest,
                    model_id=self.model_id,
                    path=name,
                    seq_id=seq_id,
                    ttl_seconds=ttl_seconds,
                    age_encryption_recipients=age_encryption_recipients,
                ),
                on_queue_state=self._queue_logger,
            ),
            convert,
        )

    @public
    def save_weights_and_get_sampling_client(
        self,
        name: str | None = None,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
        kind: Literal["snapshot", "inflight"] = "snapshot",
    ) -> SamplingClientFuture:
        """Save the current weights for sampling (ephemeral: no checkpoint is kept) and return a
        SamplingClient on them. To keep a checkpoint, use ``save_weights_for_sampler``.

        Args:
            name: Ignored, with a warning: nothing is kept under a name.
            retry_config: How the sampler's requests are throttled and retried.
            record_stability_info: Ask the server to record stability information with each
                sample.
            kind: ``"snapshot"``: these weights, fixed; ``"inflight"``: a shared target that
                later saves update in place.

        Returns:
            A future of the ``SamplingClient``.

        Example::

            sampler = training_client.save_weights_and_get_sampling_client().result()
        """
        from ._sampling_client import SamplingClient, SamplingClientFuture, open_sampling_client

        if name is not None:
            logger.warning(
                "save_weights_and_get_sampling_client(name=...) keeps no checkpoint; the name is "
                "ignored. Use save_weights_for_sampler(name) to save one."
            )
        sampling_seq = self.holder.session.next_sampling_seq_id()
        seq_id = self._turnstile.reserve(1)

        async def run() -> SamplingClient:
            body = compact(
                models.SaveWeightsForSamplerRequest,
                model_id=self.model_id,
                seq_id=seq_id,
                sampling_session_seq_id=sampling_seq,
                kind=kind,
            )
            async with self._turnstile.turn(seq_id, 1):
                handle = await self._guarded(
                    seq_id,
                    self._training.save_weights_for_sampler(
                        request=body, on_queue_state=self._queue_logger
                    ),
                )
            result = await handle.result()
            base_model = self._base_model()
            if result.sampling_session_id:
                return SamplingClient(
                    self.holder,
                    sampling_session_id=result.sampling_session_id,
                    base_model=base_model,
                    retry_config=retry_config,
                    record_stability_info=record_stability_info,
                )
            if result.path:  # a server that saves a path instead of an ephemeral session
                return await open_sampling_client(
                    self.holder,
                    model_path=normalize_path(result.path, "sampler_weights"),
                    known_base_model=base_model,
                    retry_config=retry_config,
                    record_stability_info=record_stability_info,
                )
            raise ValueError("the server returned neither a sampling session nor a path")

        return SamplingClientFuture(self._submit(run(), "save_weights_and_get_sampling_client"))

    @public
    def create_sampling_client(
        self,
        model_path: str,
        retry_config: RetryConfig | None = None,
        record_stability_info: bool = False,
    ) -> SamplingClientFuture:
        """A SamplingClient on saved sampler weights (``tinker://.../sampler_weights/...``).

        Args:
            model_path: Sampler weights saved by ``save_weights_for_sampler``.
            retry_config: How the sampler's requests are throttled and retried.
            record_stability_info: Ask the server to record stability information with each
                sample.

        Returns:
            A future of the ``SamplingClient``.
        """
        from ._sampling_client import SamplingClientFuture, open_sampling_client

        check_tinker_path(model_path)
        coro = open_sampling_client(
            self.holder,
            model_path=model_path,
            known_base_model=self._base_model(),
            retry_config=retry_config,
            record_stability_info=record_stability_info,
        )
        return SamplingClientFuture(self._submit(coro, "create_sampling_client"))

    # -- information -------------------------------------------------------------------------

    def _base_model(self) -> str | None:
        if self._info is None:
            return None
        return self._info.model_data.model_name or self._info.model_name

    @public
    def get_info(self) -> GetInfoResponse:
        """What the server said about this run when it was created (no request)."""
        if self._info is None:
            self._info = self.holder.run(self.holder.api.training.get_info(model_id=self.model_id))
        return self._info

    @public
    def get_tokenizer(self) -> Any:
        """The run's tokenizer (``pip install 'tinkex[tokenizer]'``)."""
        from ._tokenizer import load_tokenizer

        info = self.get_info()
        name = info.model_data.model_name or info.model_name or ""
        return load_tokenizer(name, info.model_data.tokenizer_id)

    @public
    def get_console_url(self) -> str:
        """The address of this run under the server's base URL."""
        return f"{self.holder.base_url}/training_runs/{self.model_id}"

    @public
    def get_telemetry(self) -> Any:
        """The telemetry of this client's connections (add listeners to it)."""
        return self.holder.api.telemetry

    @public
    def unload_model(self) -> APIFuture[Any]:
        """Free the server's resources for this run (its LoRA slot). A tinkex extra: servers that
        hold a limited number of runs (e.g. skyrl-tx) otherwise free them only on timeout."""

        async def run() -> Any:
            handle = await self.holder.api.training.unload_model(model_id=self.model_id)
            return await handle.result()

        return self._submit(run(), "unload_model")

    # -- deprecated async twins --------------------------------------------------------------
    # As in the official SDK, awaiting one of these gives the APIFuture (await that, or call
    # ``.result()``), not the result itself: ``out = await (await tc.forward_async(...))``.

    forward_async = future_twin(forward)

    forward_backward_async = future_twin(forward_backward)

    forward_backward_custom_async = future_twin(forward_backward_custom)

    optim_step_async = future_twin(optim_step)

    save_state_async = future_twin(save_state)

    load_state_async = future_twin(load_state)

    load_state_with_optimizer_async = future_twin(load_state_with_optimizer)

    save_weights_for_sampler_async = future_twin(save_weights_for_sampler)

    save_weights_external_async = future_twin(save_weights_external)

    @public
    async def get_info_async(self) -> GetInfoResponse:
        """``get_info`` for asyncio code (fetched once, then cached)."""
        if self._info is None:
            self._info = await self.holder.submit(
                self.holder.api.training.get_info(model_id=self.model_id), "get_info"
            )
        return self._info

    create_sampling_client_async = awaited_twin(create_sampling_client)

    save_weights_and_get_sampling_client_async = awaited_twin(save_weights_and_get_sampling_client)
