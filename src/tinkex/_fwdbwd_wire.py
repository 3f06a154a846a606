"""Sending forward/backward chunks in the encoding the server takes: protobuf or JSON.

Protobuf (``POST /forward_backward`` with a ``tinker_public.ForwardBackwardRequest``, zstd where
the server's config sets ``proto_compress_fwdbwd``) is what current servers speak; JSON
(``/forward_backward`` and ``/forward`` with pydantic bodies) is what skyrl-tx and older
self-hosted servers speak. The client's :class:`~sdkgen.runtime.WireCodecs` chooses: a server
without ``/client/config`` gets JSON; otherwise protobuf until the server refuses it (415 or
422), after which the refused chunk is resent as JSON - a refused request was not applied, so
this never applies anything twice - and every later one goes as JSON.

Protobuf bodies are encoded in the caller's thread, before any sequence id is used, so a datum
the wire cannot carry fails at the call with an error naming it, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sdkgen.runtime import APIStatusError, AsyncFutureHandle, QueueStateObserver

from ._generated import AsyncTinkerAPI, endpoints as _e, models
from ._wire import compact
from .types import Datum, ForwardBackwardOutput

if TYPE_CHECKING:
    from ._proto import EncodedForwardBackward

__all__ = ["ForwardBackwardWire"]

# The public output type: JSON results validate straight into it, protobuf ones decode to it.
Handle = AsyncFutureHandle[models.UntypedAPIFuture, ForwardBackwardOutput]


class ForwardBackwardWire:
    """Encodes and sends the chunks of one training run's forward and forward_backward calls.

    Example::

        wire = ForwardBackwardWire(api, model_id, compress=lambda: True, observer=None)
        bodies = wire.encode(chunks, "cross_entropy", None, forward_only=False)
        handle = await wire.send(chunks[0], bodies[0], seq_id, "cross_entropy", None, False)
    """

    def __init__(
        self,
        api: AsyncTinkerAPI,
        model_id: str,
        *,
        compress: Callable[[], bool],
        observer: QueueStateObserver | None,
    ) -> None:
        self._api = api
        self._model_id = model_id
        self._compress = compress
        self._observer = observer

    def encode(
        self,
        chunks: Sequence[Sequence[Datum]],
        loss_fn: str,
        loss_fn_config: Mapping[str, float | str] | None,
        *,
        forward_only: bool,
    ) -> list[EncodedForwardBackward | None]:
        """The protobuf body of each chunk (``None`` each where JSON will be sent); raises
        ``WireInputError`` for a datum the wire cannot carry."""
        if not self._api.codecs.protobuf_request(_e.FORWARD_BACKWARD):
            return [None] * len(chunks)
        from ._proto import encode_forward_backward_bytes  # numpy and the messages, on first use

        return [
            encode_forward_backward_bytes(
                model_id=self._model_id,
                data=chunk,
                loss_fn=loss_fn,
                loss_fn_config=loss_fn_config,
                forward_only=forward_only,
            )
            for chunk in chunks
        ]

    async def send(
        self,
        chunk: Sequence[Datum],
        message: EncodedForwardBackward | None,
        seq_id: int,
        loss_fn: str,
        loss_fn_config: Mapping[str, Any] | None,
        forward_only: bool,
    ) -> Handle:
        """Submit one chunk as ``seq_id``; its handle polls for the chunk's output."""
        codecs = self._api.codecs
        if message is None or not codecs.protobuf_request(_e.FORWARD_BACKWARD):
            return await self._send_json(chunk, seq_id, loss_fn, loss_fn_config, forward_only)
        try:
            handle = await self._api.training.forward_backward(
                message=message.with_seq_id(seq_id),
                on_queue_state=self._observer,
                compress=self._compress(),
            )
        except APIStatusError as err:
            if codecs.mode == "protobuf" or not codecs.is_refusal(err, _e.FORWARD_BACKWARD):
                raise
            codecs.refuse(_e.FORWARD_BACKWARD, err)
            try:
                return await self._send_json(chunk, seq_id, loss_fn, loss_fn_config, forward_only)
            except APIStatusError as again:
                if again.status_code == err.status_code:
                    # JSON is refused the same way: the request, not its encoding, is at fault.
                    codecs.forget_refusal()
                raise
        return handle.result_as(ForwardBackwardOutput)

    async def _send_json(
        self,
        chunk: Sequence[Datum],
        seq_id: int,
        loss_fn: str,
        loss_fn_config: Mapping[str, Any] | None,
        forward_only: bool,
    ) -> Handle:
        # Packed ids and tensors (and decoded outputs reused as inputs) make their lists as the
        # body is written: the generated models write public types with their own serializer.
        batch = compact(
            models.ForwardBackwardInput,
            data=list(chunk),
            loss_fn=loss_fn,
            loss_fn_config=dict(loss_fn_config) if loss_fn_config is not None else None,
        )
        training = self._api.training
        if forward_only:
            handle = await training.forward(
                request=compact(
                    models.ForwardRequest,
                    forward_input=batch,
                    model_id=self._model_id,
                    seq_id=seq_id,
                ),
                on_queue_state=self._observer,
            )
        else:
            handle = await training.forward_backward_json(
                request=compact(
                    models.ForwardBackwardRequest,
                    forward_backward_input=batch,
                    model_id=self._model_id,
                    seq_id=seq_id,
                ),
                on_queue_state=self._observer,
            )
        return handle.result_as(ForwardBackwardOutput)
