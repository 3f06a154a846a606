"""What recovery is told (the policy), what it tells (events), and how it fails (errors)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from typing import Literal

from sdkgen.runtime import ConfigError, SDKError

__all__ = [
    "BreakageKind",
    "RecoveryError",
    "RecoveryEvent",
    "RecoveryEventKind",
    "RecoveryExhaustedError",
    "RecoveryPolicy",
    "step_of_checkpoint",
]

BreakageKind = Literal["unreachable", "lost_model", "corrupted", "nan_loss", "custom"]
"""How a run broke: the server unreachable past the retries, the model or request lost (as
after a restart), the run reported corrupted, a NaN loss, or the policy's ``is_broken`` said so."""
RecoveryEventKind = Literal[
    "detected", "started", "checkpoint_chosen", "completed", "failed", "exhausted"
]
"""The stages of a recovery a ``RecoveryEvent`` reports, from the breakage detected to the
run restored (``completed``) or given up (``exhausted``)."""
_ALL_KINDS: tuple[BreakageKind, ...] = (
    "unreachable",
    "lost_model",
    "corrupted",
    "nan_loss",
    "custom",
)
_STEP = re.compile(r"step-(\d+)$")


class RecoveryError(SDKError):
    """Recovery could not bring the run back: no checkpoint to go back to, or the rebuilt
    client failed in a way recovery does not handle. Says which step and why."""


class RecoveryExhaustedError(RecoveryError):
    """Every recovery attempt of the policy failed; the last cause is chained."""


@dataclasses.dataclass(frozen=True, slots=True)
class RecoveryEvent:
    """One thing recovery did, for ``RecoveryPolicy.on_event`` and the ``tinkex.recovery`` log.

    ``kind``: ``detected`` (a step broke the run), ``started`` (an attempt begins),
    ``checkpoint_chosen``, ``completed`` (a fresh client is ready), ``failed`` (an attempt
    failed) or ``exhausted`` (no attempts left). ``step`` is the loop's step when the run broke,
    ``resume_step`` the step the loop goes on from (the checkpoint's).
    """

    kind: RecoveryEventKind
    step: int
    reason: BreakageKind | None = None
    attempt: int = 0
    checkpoint: str | None = None
    resume_step: int | None = None
    model_id: str | None = None
    error: str | None = None


def step_of_checkpoint(path_or_name: str) -> int | None:
    """The loop step a checkpoint was saved after, read from a name ending in ``step-<n>``.

    Example::

        step_of_checkpoint("tinker://run-1/weights/recovery-step-000010")  # 10
    """
    match = _STEP.search(path_or_name.rstrip("/"))
    return int(match.group(1)) if match else None


@dataclasses.dataclass(frozen=True, slots=True)
class RecoveryPolicy:
    """When a training run counts as broken and how it is brought back.

    Args:
        breakages: The kinds of breakage recovered from: ``unreachable`` (a step failed because
            the server could not be reached, after the client's own retries: its
            ``max_retries`` and ``unreachable_timeout`` say how long that is), ``lost_model``
            (the server no longer knows the run's model or the step's request: a 4xx naming
            the model, or an expired future, as after a server restart), ``corrupted`` (a step
            failed and the server reports the run ``corrupted``), ``nan_loss`` (a step's loss
            is NaN or infinite), ``custom`` (``is_broken`` says so). Anything else is raised.
        checkpoint: ``"latest"`` (the newest checkpoint saved by the run) or one checkpoint:
            a ``tinker://`` path, or a name of this run's (``weights/<name>``). Its step is read
            from a name ending in ``step-<n>`` unless ``checkpoint_step`` gives it.
        checkpoint_step: The loop step a named ``checkpoint`` was saved after.
        restore_optimizer: Restore the optimizer state with the weights (else weights only).
        max_attempts: Recovery attempts per breakage before ``RecoveryExhaustedError``.
        initial_delay: Backoff before the second attempt, doubling up to ``max_delay``.
        max_delay: The longest wait between attempts.
        server_wait: How long an attempt waits for the server to answer again (seconds).
        is_broken: Extra breakage test on a step's exception (kind ``custom``).
        on_event: Called with every ``RecoveryEvent`` (exceptions in it are logged, not raised).

    Example::

        policy = RecoveryPolicy(checkpoint="latest", max_attempts=3, on_event=print)
    """

    breakages: Sequence[BreakageKind] = _ALL_KINDS
    checkpoint: str = "latest"
    checkpoint_step: int | None = None
    restore_optimizer: bool = True
    max_attempts: int = 3
    initial_delay: float = 1.0
    max_delay: float = 30.0
    server_wait: float = 300.0
    is_broken: Callable[[BaseException], bool] | None = None
    on_event: Callable[[RecoveryEvent], None] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.breakages) - set(_ALL_KINDS))
        if unknown:
            raise ConfigError(
                f"RecoveryPolicy.breakages: unknown kind(s) {unknown}; use {list(_ALL_KINDS)}"
            )
        if self.max_attempts < 1:
            raise ConfigError(
                f"RecoveryPolicy.max_attempts must be at least 1, not {self.max_attempts}"
            )
        for name in ("initial_delay", "max_delay", "server_wait"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"RecoveryPolicy.{name} must be a number >= 0, not {value!r}")
        if not self.checkpoint:
            raise ConfigError('RecoveryPolicy.checkpoint: give "latest", a name or a tinker path')
        if self.checkpoint_step is not None and self.checkpoint_step < 0:
            raise ConfigError(
                f"RecoveryPolicy.checkpoint_step must be >= 0, not {self.checkpoint_step}"
            )
        if self.checkpoint == "latest" and self.checkpoint_step is not None:
            raise ConfigError(
                'RecoveryPolicy.checkpoint_step is for a named checkpoint, not "latest"'
            )
        if (
            self.checkpoint != "latest"
            and self.checkpoint_step is None
            and step_of_checkpoint(self.checkpoint) is None
        ):
            raise ConfigError(
                f"RecoveryPolicy.checkpoint {self.checkpoint!r}: cannot tell which step it was "
                "saved after; pass checkpoint_step=<n> (or name it ...step-<n>)"
            )

    @property
    def named_step(self) -> int | None:
        """The step of a named checkpoint (None for ``"latest"``)."""
        if self.checkpoint == "latest":
            return None
        if self.checkpoint_step is not None:
            return self.checkpoint_step
        return step_of_checkpoint(self.checkpoint)
