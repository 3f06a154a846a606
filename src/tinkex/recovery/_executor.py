"""Bringing a broken run back: wait for the server, choose the checkpoint, build a fresh
TrainingClient from it, with a backoff between attempts and an event for every stage."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sdkgen.runtime import APIError, NotFoundError, RetryPolicy, backoff_delay

from ._policy import (
    BreakageKind,
    RecoveryError,
    RecoveryEvent,
    RecoveryExhaustedError,
    RecoveryPolicy,
)

if TYPE_CHECKING:
    from .._rest_client import RestClient
    from .._service_client import ServiceClient
    from .._training_client import TrainingClient

__all__ = ["RecoveryExecutor", "SavedCheckpoint"]

logger = logging.getLogger("tinkex.recovery")
_PROBE_TIMEOUT = 30.0
# Creating a run from a checkpoint loads weights (and compiles, on a local server): minutes.
_REBUILD_TIMEOUT = 900.0


@dataclasses.dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    """A checkpoint recovery can go back to: its ``tinker://`` path and the loop step it was
    saved after (the weights hold exactly that many of the loop's optimizer steps)."""

    path: str
    step: int


class RecoveryExecutor:
    """Rebuilds a ``TrainingClient`` from a checkpoint, as the policy says.

    Example::

        executor = RecoveryExecutor(service, RecoveryPolicy())
        client, checkpoint = executor.recover(
            step=12, reason="lost_model", checkpoints=[SavedCheckpoint(path, 10)], model_id=old
        )
    """

    def __init__(self, service: ServiceClient, policy: RecoveryPolicy, rest: RestClient) -> None:
        self.service = service
        self.policy = policy
        self._rest = rest
        self._backoff = RetryPolicy(
            initial_delay=policy.initial_delay, max_delay=policy.max_delay, jitter=0.25
        )

    def named_checkpoint(self, model_id: str) -> SavedCheckpoint | None:
        """The policy's named checkpoint as a path of ``model_id``'s run (None: "latest")."""
        step = self.policy.named_step
        if step is None:
            return None
        name = self.policy.checkpoint
        path = name if name.startswith("tinker://") else f"tinker://{model_id}/weights/{name}"
        return SavedCheckpoint(path, step)

    def check_named(self, model_id: str) -> None:
        """Refuse, before the run starts, a named checkpoint the server does not have."""
        named = self.named_checkpoint(model_id)
        if named is None:
            return
        try:
            self._rest.get_weights_info_by_tinker_path(named.path).result(timeout=_PROBE_TIMEOUT)
        except NotFoundError as err:
            raise RecoveryError(
                f"RecoveryPolicy.checkpoint {self.policy.checkpoint!r}: the server has no "
                f"checkpoint {named.path} ({err.status_code}); save it first, or use "
                '"latest" to go back to the checkpoints the run saves'
            ) from err

    def recover(
        self,
        *,
        step: int,
        reason: BreakageKind,
        checkpoints: Sequence[SavedCheckpoint],
        model_id: str,
        cause: BaseException | None = None,
    ) -> tuple[TrainingClient, SavedCheckpoint]:
        """A fresh client on the chosen checkpoint, or ``RecoveryExhaustedError``.

        Args:
            step: The loop step that broke the run.
            reason: What broke it.
            checkpoints: The checkpoints saved so far, oldest first.
            model_id: The broken run's model id.
            cause: The step's exception, if any (chained on failure).
        """
        emit = self._emit
        emit(RecoveryEvent("detected", step, reason, model_id=model_id, error=_text(cause)))
        chosen = self.named_checkpoint(model_id) or (checkpoints[-1] if checkpoints else None)
        if chosen is None:
            raise RecoveryError(
                f"step {step}: the run broke ({reason}) before any checkpoint was saved; "
                "nothing to recover to (save one at the start: checkpoint_every=N)"
            ) from cause
        last: BaseException | None = cause
        for attempt in range(1, self.policy.max_attempts + 1):
            if attempt > 1:
                time.sleep(backoff_delay(self._backoff, attempt - 2))
            emit(RecoveryEvent("started", step, reason, attempt, model_id=model_id))
            try:
                self._wait_for_server()
                emit(
                    RecoveryEvent(
                        "checkpoint_chosen", step, reason, attempt, chosen.path, chosen.step
                    )
                )
                client = self._rebuild(chosen.path)
            except (APIError, TimeoutError, RecoveryError) as err:
                last = err
                emit(RecoveryEvent("failed", step, reason, attempt, chosen.path, error=_text(err)))
                continue
            emit(
                RecoveryEvent(
                    "completed", step, reason, attempt, chosen.path, chosen.step, client.model_id
                )
            )
            return client, chosen
        emit(RecoveryEvent("exhausted", step, reason, self.policy.max_attempts, chosen.path))
        raise RecoveryExhaustedError(
            f"step {step}: {self.policy.max_attempts} recovery attempt(s) from {chosen.path} "
            f"failed ({reason}); last: {_text(last)}"
        ) from last

    def _wait_for_server(self) -> None:
        deadline = time.monotonic() + self.policy.server_wait
        while True:
            left = deadline - time.monotonic()
            try:
                self._rest.get_server_capabilities().result(
                    timeout=max(min(left, _PROBE_TIMEOUT), 1)
                )
                return
            except (APIError, TimeoutError) as err:
                if time.monotonic() >= deadline:
                    raise RecoveryError(
                        f"the server did not answer within {self.policy.server_wait:g}s: {err}"
                    ) from err
                time.sleep(min(1.0, max(deadline - time.monotonic(), 0)))

    def _rebuild(self, path: str) -> TrainingClient:
        if self.policy.restore_optimizer:
            future = self.service.create_training_client_from_state_with_optimizer(path)
        else:
            future = self.service.create_training_client_from_state(path)
        return future.result(timeout=_REBUILD_TIMEOUT)

    def _emit(self, event: RecoveryEvent) -> None:
        level = (
            logging.WARNING if event.kind in ("detected", "failed", "exhausted") else logging.INFO
        )
        logger.log(level, "recovery %s: %s", event.kind, event)
        if self.policy.on_event is not None:
            try:
                self.policy.on_event(event)
            except Exception:
                logger.exception(
                    "RecoveryPolicy.on_event failed on %s; recovery goes on", event.kind
                )


def _text(err: BaseException | None) -> str | None:
    return None if err is None else f"{type(err).__name__}: {err}"
