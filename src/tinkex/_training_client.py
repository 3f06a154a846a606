"""TrainingClient: forward/backward passes, optimizer steps and checkpoints of one training run.

Every method returns an :class:`APIFuture` at once; requests are submitted in sequence-id order
(even when called from several threads), and their results are polled concurrently, so a
``forward_backward`` and an ``optim_step`` can be submitted back to back and then awaited.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sdkgen.runtime import (
    APIFuture,
    AsyncFutureHandle,
)

from ._chunking import chunk_data, merge_outputs
from ._client_loss import with_client_loss
from ._generated import models
from ._holder import Holder
from ._public_call import future_twin, public
from ._training_checkpoints import TrainingCheckpoints
from ._validation import (
    allowing_nonfinite,
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
    LossFnType,
    OptimStepResponse,
)
from .types._tensor import require

if TYPE_CHECKING:
    pass

__all__ = ["TrainingClient"]

logger = logging.getLogger("tinkex")

H = TypeVar("H")
R = TypeVar("R")
OptimParams = AdamParams | DimuonParams
CustomLossFn = Callable[[list[Datum], list[Any]], tuple[Any, dict[str, float]]]


class TrainingClient(TrainingCheckpoints):
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

    # -- helpers -----------------------------------------------------------------------------

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

    # -- information -------------------------------------------------------------------------

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

    @public
    async def get_info_async(self) -> GetInfoResponse:
        """``get_info`` for asyncio code (fetched once, then cached)."""
        if self._info is None:
            self._info = await self.holder.submit(
                self.holder.api.training.get_info(model_id=self.model_id), "get_info"
            )
        return self._info
