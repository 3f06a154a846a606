"""Whether a step's outcome means the training run is broken, and how."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sdkgen.runtime import (
    APIConnectionError,
    APIError,
    APIStatusError,
    FutureExpiredError,
    RequestFailedError,
)

from ._policy import BreakageKind, RecoveryPolicy

if TYPE_CHECKING:
    from .._rest_client import RestClient

__all__ = ["RecoveryMonitor", "loss_of"]

logger = logging.getLogger("tinkex.recovery")
# A probe of the run's state must not hold up the decision for long.
_PROBE_TIMEOUT = 30.0


def loss_of(output: Any) -> float | None:
    """The loss in a step's result: ``loss:sum`` (or ``loss``) of its ``metrics``, or of the
    mapping itself; None when there is none."""
    metrics = getattr(output, "metrics", output)
    if not isinstance(metrics, Mapping):
        return None
    for key in ("loss:sum", "loss:mean", "loss"):
        value = metrics.get(key)
        if isinstance(value, int | float):
            return float(value)
    return None


class RecoveryMonitor:
    """Watches one training run's steps and names the breakage, if any.

    Example::

        monitor = RecoveryMonitor(RecoveryPolicy(), rest_client)
        kind = monitor.classify_error(err, model_id="run-1")  # "lost_model", or None
    """

    def __init__(self, policy: RecoveryPolicy, rest: RestClient) -> None:
        self.policy = policy
        self._rest = rest

    def classify_error(self, err: BaseException, *, model_id: str) -> BreakageKind | None:
        """The kind of breakage a step's exception shows, among the policy's; else None."""
        kind = self._kind(err, model_id)
        if kind is None or kind not in self.policy.breakages:
            return None
        return kind

    def classify_output(self, output: Any) -> BreakageKind | None:
        """``nan_loss`` when the step's result carries a loss that is NaN or infinite."""
        if "nan_loss" not in self.policy.breakages:
            return None
        loss = loss_of(output)
        return "nan_loss" if loss is not None and not math.isfinite(loss) else None

    def _kind(self, err: BaseException, model_id: str) -> BreakageKind | None:
        if self.policy.is_broken is not None and self.policy.is_broken(err):
            return "custom"
        if isinstance(err, APIConnectionError):  # after the client's own retries
            return "unreachable"
        if isinstance(err, FutureExpiredError):  # the server forgot the request: restarted
            return "lost_model"
        if (
            isinstance(err, APIStatusError)
            and err.status_code in (400, 404, 410)
            and model_id in str(err)
        ):
            return "lost_model"
        if isinstance(err, RequestFailedError | APIStatusError) and self._corrupted(model_id):
            return "corrupted"
        return None

    def _corrupted(self, model_id: str) -> bool:
        """Whether the server reports the run corrupted (a failed probe: not known to be)."""
        try:
            run = self._rest.get_training_run(model_id).result(timeout=_PROBE_TIMEOUT)
        except (APIError, TimeoutError) as err:
            logger.info("could not ask whether run %s is corrupted: %s", model_id, err)
            return False
        return bool(run.corrupted)
