"""A training loop that survives a broken run: checkpoints at an interval, and on breakage a
fresh client from the last one, the loop going on from that checkpoint's step."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._executor import RecoveryExecutor, SavedCheckpoint
from ._monitor import RecoveryMonitor
from ._policy import BreakageKind, RecoveryError, RecoveryPolicy

if TYPE_CHECKING:
    from .._service_client import ServiceClient
    from .._training_client import TrainingClient

__all__ = ["RecoverableRun", "RunSummary", "TrainStep"]

logger = logging.getLogger("tinkex.recovery")

TrainStep = Callable[["TrainingClient", int], Any]
"""The caller's training step: ``train_step(training_client, step)``, run once per step on the
current client (a new one after a recovery); the step number picks the batch."""
_CLEANUP_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class RunSummary:
    """How a ``RecoverableRun.run`` ended: the steps done, the recoveries made (with the step
    each went back to), the checkpoints saved, and the client the loop finished on."""

    steps: int
    recoveries: tuple[tuple[int, int, BreakageKind], ...]  # (broke at, resumed from, kind)
    checkpoints: tuple[SavedCheckpoint, ...]
    training_client: TrainingClient


class RecoverableRun:
    """Runs ``train_step(client, step)`` for every step, saving a checkpoint every
    ``checkpoint_every`` steps (and one before the first), and recovering a broken run.

    The contract: after a recovery the loop goes on from the checkpoint's step with a client
    whose weights hold exactly the optimizer steps the loop applied up to that checkpoint;
    the steps after it are run again on the fresh client (none lost silently, none doubled).
    For that, ``train_step`` must do one step's whole work on the client it is given (and wait
    for its optimizer step, or leave it to the checkpoint that follows, which the server orders
    after it), and must not keep a client from an earlier call.

    Args:
        service: The ServiceClient that made ``training_client`` (recovery creates runs on it).
        training_client: The run to train.
        policy: What counts as broken and how to recover (default: ``RecoveryPolicy()``).
        checkpoint_every: Save a checkpoint after every this many steps (None: only the
            policy's named checkpoint can be gone back to).
        checkpoint_prefix: Checkpoint names are ``<prefix>-step-<step, 6 digits>``.
        start_step: The loop's first step (a run resumed by hand).
        save_initial: Save a checkpoint before the first step, so that a breakage before the
            first interval has something to go back to.

    Example::

        def train_step(client: tinkex.TrainingClient, step: int) -> object:
            out = client.forward_backward(batches[step], "cross_entropy")
            client.optim_step(types.AdamParams(learning_rate=1e-4)).result()
            return out.result()

        run = RecoverableRun(service, client, RecoveryPolicy(), checkpoint_every=5)
        summary = run.run(train_step, steps=100)
    """

    def __init__(
        self,
        service: ServiceClient,
        training_client: TrainingClient,
        policy: RecoveryPolicy | None = None,
        *,
        checkpoint_every: int | None = None,
        checkpoint_prefix: str = "recovery",
        start_step: int = 0,
        save_initial: bool = True,
    ) -> None:
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(
                f"checkpoint_every must be at least 1 (or None), not {checkpoint_every}"
            )
        if start_step < 0:
            raise ValueError(f"start_step must be >= 0, not {start_step}")
        self.policy = policy or RecoveryPolicy()
        self.checkpoint_every = checkpoint_every
        self.checkpoint_prefix = checkpoint_prefix
        self.start_step = start_step
        self.save_initial = save_initial
        self._client = training_client
        rest = service.create_rest_client()
        self.monitor = RecoveryMonitor(self.policy, rest)
        self.executor = RecoveryExecutor(service, self.policy, rest)
        self._checkpoints: list[SavedCheckpoint] = []
        self._recoveries: list[tuple[int, int, BreakageKind]] = []

    @property
    def training_client(self) -> TrainingClient:
        """The client the loop trains now (a fresh one after each recovery)."""
        return self._client

    @property
    def checkpoints(self) -> tuple[SavedCheckpoint, ...]:
        """The checkpoints saved so far, oldest first."""
        return tuple(self._checkpoints)

    def run(self, train_step: TrainStep, steps: int) -> RunSummary:
        """Run steps ``start_step .. steps - 1``, recovering as the policy says.

        Args:
            train_step: ``(client, step) -> result``; a result with ``metrics`` (or a mapping)
                holding ``loss:sum`` lets the monitor see a NaN loss.
            steps: The step count to reach.

        Raises:
            RecoveryError: a named checkpoint that does not exist (before the first step), or
                no checkpoint to go back to.
            RecoveryExhaustedError: every recovery attempt failed.
        """
        self.executor.check_named(self._client.model_id)
        step = self.start_step
        if self.checkpoint_every is not None and self.save_initial and step < steps:
            step = self._checkpoint_or_recover(step)
        while step < steps:
            try:
                output = train_step(self._client, step)
            except Exception as err:
                kind = self.monitor.classify_error(err, model_id=self._client.model_id)
                if kind is None:
                    raise
                step = self._recover(step, kind, err)
                continue
            kind = self.monitor.classify_output(output)
            if kind is not None:
                step = self._recover(step, kind, None)
                continue
            step += 1
            if self.checkpoint_every is not None and step % self.checkpoint_every == 0:
                step = self._checkpoint_or_recover(step)
        return RunSummary(
            steps=step,
            recoveries=tuple(self._recoveries),
            checkpoints=tuple(self._checkpoints),
            training_client=self._client,
        )

    def _checkpoint_or_recover(self, step: int) -> int:
        """Save the checkpoint of ``step``; a save that breaks the run recovers instead."""
        name = f"{self.checkpoint_prefix}-step-{step:06d}"
        try:
            saved = self._client.save_state(name).result()
        except Exception as err:
            kind = self.monitor.classify_error(err, model_id=self._client.model_id)
            if kind is None:
                raise
            return self._recover(step, kind, err)
        self._checkpoints.append(SavedCheckpoint(saved.path, step))
        logger.info("checkpoint %s saved after step %d", saved.path, step)
        return step

    def _recover(self, step: int, kind: BreakageKind, cause: BaseException | None) -> int:
        old = self._client
        client, checkpoint = self.executor.recover(
            step=step,
            reason=kind,
            checkpoints=self._checkpoints,
            model_id=old.model_id,
            cause=cause,
        )
        if checkpoint.step > step:
            raise RecoveryError(
                f"step {step}: checkpoint {checkpoint.path} is of a later step "
                f"({checkpoint.step}); going forward would skip steps"
            ) from cause
        if kind in ("nan_loss", "corrupted", "custom"):  # the server is there: free the old run
            try:
                old.unload_model().result(timeout=_CLEANUP_TIMEOUT)
            except Exception as err:  # best effort: recovery does not depend on it
                logger.info("could not unload the broken run %s: %s", old.model_id, err)
        self._client = client
        # Checkpoints after the one gone back to hold steps the new client will redo.
        self._checkpoints = [c for c in self._checkpoints if c.step <= checkpoint.step]
        self._recoveries.append((step, checkpoint.step, kind))
        return checkpoint.step
