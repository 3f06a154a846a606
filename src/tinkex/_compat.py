"""Names of the official SDK's surface that are thin in tinkex: aliases, warnings, custom losses
and the admin client."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import httpx

from ._rest_client import RestClient
from .runtime import APIFuture, PaymentRequiredError, SDKError
from .types import AdamParams, DimuonParams

__all__ = [
    "AdminClient",
    "BillingError",
    "ExperimentalWarning",
    "LossHandle",
    "ModelID",
    "OptimParams",
    "PerDatumLossFn",
    "Timeout",
    "TinkerError",
]

TinkerError = SDKError
BillingError = PaymentRequiredError
Timeout = httpx.Timeout
ModelID: TypeAlias = str
OptimParams: TypeAlias = AdamParams | DimuonParams
PerDatumLossFn: TypeAlias = Callable[..., Any]


class ExperimentalWarning(FutureWarning):
    """Warns that an API is experimental and may change."""


@dataclasses.dataclass(frozen=True)
class LossHandle:
    """A custom loss, computed client-side by ``forward_backward_custom``.

    ``fn(data, logprobs) -> (loss, metrics)``; ``input_ranks`` documents the inputs it reads.
    """

    fn: Callable[..., Any]
    input_ranks: Sequence[int] = ()
    loss_id: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


class AdminClient(RestClient):
    """Audit log and billing calls (they need admin rights on the server)."""

    def get_billing_usage(self, starting_on: Any, ending_before: Any) -> APIFuture[Any]:
        return self._call(
            self._api.admin.get_billing_usage(starting_on=starting_on, ending_before=ending_before),
            "get_billing_usage",
        )

    def get_current_checkpoint_storage_usage(self, project_id: str | None = None) -> APIFuture[Any]:
        return self._call(
            self._api.admin.get_current_checkpoint_storage_usage(project_id=project_id),
            "get_current_checkpoint_storage_usage",
        )
