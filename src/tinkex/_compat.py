"""Names of the official SDK's surface that are thin in tinkex: aliases, warnings, custom losses
and the admin client."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import httpx
from sdkgen.runtime import PaymentRequiredError, SDKError

from ._rest_client import RestClient
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
"""The official SDK's name of ``SDKError``, the base of every exception tinkex raises."""
BillingError = PaymentRequiredError
"""The official SDK's name of ``PaymentRequiredError`` (402)."""
Timeout = httpx.Timeout
"""httpx's timeout settings (connect, read, write, pool), under the official SDK's name."""
ModelID: TypeAlias = str
"""A training run's id, as ``TrainingClient.model_id`` holds it."""
OptimParams: TypeAlias = AdamParams | DimuonParams
"""The hyper-parameters ``TrainingClient.optim_step`` takes: ``AdamParams`` or ``DimuonParams``."""
PerDatumLossFn: TypeAlias = Callable[..., Any]
"""The official SDK's type of a per-datum loss function (any callable here)."""


class ExperimentalWarning(FutureWarning):
    """Warns that an API is experimental and may change."""


@dataclasses.dataclass(frozen=True)
class LossHandle:
    """A custom loss. With ``fn`` it runs client-side in ``forward_backward_custom``; with a
    server-assigned ``loss_id`` it runs on the server (``loss_fn="custom"``)."""

    name: str
    inputs: Sequence[Any] = ()
    session_id: str | None = None
    graph: Any = None
    loss_id: str | None = None
    fn: Callable[..., Any] | None = dataclasses.field(default=None, compare=False)

    @property
    def input_names(self) -> list[str]:
        """The names of the loss's inputs, in order."""
        return [getattr(i, "name", str(i)) for i in self.inputs]

    @property
    def key(self) -> str:
        """Identifies the loss: its name, inputs and graph."""
        material = json.dumps([self.name, self.input_names, repr(self.graph)])
        return hashlib.sha256(material.encode()).hexdigest()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.fn is None:
            raise TypeError(f"loss {self.name!r} runs on the server; it cannot be called here")
        return self.fn(*args, **kwargs)


class AdminClient(RestClient):
    """Audit log and billing calls (they need admin rights on the server); the same calls as
    on RestClient, where the official SDK deprecated them."""
