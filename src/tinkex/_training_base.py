"""What every part of TrainingClient shares: the run it trains, the Holder, the turnstile that orders its requests by sequence id, and submitting one request in its turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sdkgen.runtime import (
    AmbiguousOutcomeError,
    APIFuture,
    APIResponseValidationError,
    AsyncFutureHandle,
)

from ._fwdbwd_wire import ForwardBackwardWire
from ._holder import Holder
from ._ordering import Turnstile
from ._queue import QueueStateLogger
from .types import (
    GetInfoResponse,
)

if TYPE_CHECKING:
    from ._generated.training import AsyncTraining

logger = logging.getLogger("tinkex")
H = TypeVar("H")
R = TypeVar("R")

__all__ = ["TrainingBase"]


class TrainingBase:
    """The shared state and helpers of TrainingClient's parts (see ``_training_client``)."""

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

    def _compress_fwdbwd(self) -> bool:
        config = self.holder.features.known_config
        return config is not None and config.proto_compress_fwdbwd

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
        """Await a submission in its turn; its errors say which model and seq id they are about.

        Cancelled while its request is out, it still waits for the answer before its turn
        passes on: the server may be applying it, and nothing behind it may overtake it.
        """
        sending = asyncio.ensure_future(self._labelled(seq_id, submission))
        try:
            return await asyncio.shield(sending)
        except asyncio.CancelledError:
            await self._settle_cancelled(seq_id, sending)
            raise

    async def _settle_cancelled(self, seq_id: int, sending: asyncio.Future[Any]) -> None:
        """Wait for a cancelled call's request to be answered; say so when it was accepted."""
        try:
            await asyncio.wait([sending])  # bounded by the request's own timeout and retries
        except asyncio.CancelledError:  # cancelled again (the client closes): stop waiting
            sending.cancel()
            raise
        if sending.cancelled():
            return
        error = sending.exception()
        if error is None or isinstance(error, AmbiguousOutcomeError):
            logger.warning(
                "a request to %s (seq id %d) was cancelled while it was being sent; the server "
                "%s (the requests after it were sent after its answer, in order)",
                self.model_id,
                seq_id,
                "accepted it, so it is applied" if error is None else "may have applied it",
            )

    async def _labelled(self, seq_id: int, submission: Awaitable[H]) -> H:
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

    def _base_model(self) -> str | None:
        if self._info is None:
            return None
        return self._info.model_data.model_name or self._info.model_name
