"""tinkex: a typed Python SDK for the Tinker fine-tuning API.

The public names match the official ``tinker`` SDK, so code written for it runs after
``import tinkex as tinker``. Names load lazily: ``import tinkex`` itself stays light.

Example::

    import tinkex as tinker
    with tinker.ServiceClient() as service:
        training = service.create_lora_training_client("Qwen/Qwen3-8B").result()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__title__ = "tinkex"

_EXPORTS: dict[str, str] = {
    # clients
    "ServiceClient": "._service_client",
    "TrainingClient": "._training_client",
    "SamplingClient": "._sampling_client",
    "RestClient": "._rest_client",
    "RetryConfig": "._sampling_client",
    "APIFuture": ".runtime",
    "BackcompatTrainingClientFuture": "._service_client:TrainingClientFuture",
    "BackcompatSamplingClientFuture": "._sampling_client:SamplingClientFuture",
    "AdminClient": "._compat",
    "LossHandle": "._compat",
    "ExperimentalWarning": "._compat",
    "ModelID": "._compat",
    "OptimParams": "._compat",
    "PerDatumLossFn": "._compat",
    "Timeout": "._compat",
    "RequestOptions": ".runtime",
    # errors
    "TinkerError": "._compat",
    "BillingError": "._compat",
    "APIError": ".runtime",
    "APIStatusError": ".runtime",
    "APIConnectionError": ".runtime",
    "APITimeoutError": ".runtime",
    "APIResponseValidationError": ".runtime",
    "AmbiguousOutcomeError": ".runtime",
    "AuthenticationError": ".runtime",
    "BadRequestError": ".runtime",
    "ConflictError": ".runtime",
    "InternalServerError": ".runtime",
    "NotFoundError": ".runtime",
    "PermissionDeniedError": ".runtime",
    "RateLimitError": ".runtime",
    "RequestFailedError": ".runtime",
    "UnprocessableEntityError": ".runtime",
    "FutureExpiredError": ".runtime",
    "FutureTimeoutError": ".runtime",
    "ClientClosedError": ".runtime",
    # types
    "AdamOptimizerConfig": "._generated.models",
    "DimuonOptimizerConfig": "._generated.models",
    "OptimStepRequest": ".types",
    "SampleRequest": "._generated.models",
    "AdamParams": ".types",
    "Checkpoint": ".types",
    "CheckpointType": ".types",
    "Datum": ".types",
    "DimuonParams": ".types",
    "DmelChunk": ".types",
    "EncodedTextChunk": ".types",
    "ForwardBackwardOutput": ".types",
    "LoraConfig": ".types",
    "ModelInput": ".types",
    "ModelInputChunk": ".types",
    "OptimStepResponse": ".types",
    "ParsedCheckpointTinkerPath": ".types",
    "PromptProvenanceSpan": ".types",
    "SampleResponse": ".types",
    "SampledProvenanceSpan": ".types",
    "SampledSequence": ".types",
    "SamplingParams": ".types",
    "StopReason": ".types",
    "TensorData": ".types",
    "TensorDtype": ".types",
    "TrainingRun": ".types",
}
_MODULES = {"types", "auth", "runtime"}

__all__ = sorted([*_EXPORTS, *_MODULES, "__title__", "__version__"])


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._version import sdk_version

        return sdk_version()
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'tinkex' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name, __name__), attr or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from . import auth, runtime, types
    from ._compat import (
        AdminClient,
        BillingError,
        ExperimentalWarning,
        LossHandle,
        ModelID,
        OptimParams,
        PerDatumLossFn,
        Timeout,
        TinkerError,
    )
    from ._generated.models import (
        AdamOptimizerConfig,
        DimuonOptimizerConfig,
        SampleRequest,
    )
    from ._rest_client import RestClient
    from ._sampling_client import RetryConfig, SamplingClient
    from ._sampling_client import SamplingClientFuture as BackcompatSamplingClientFuture
    from ._service_client import ServiceClient
    from ._service_client import TrainingClientFuture as BackcompatTrainingClientFuture
    from ._training_client import TrainingClient
    from .runtime import (
        AmbiguousOutcomeError,
        APIConnectionError,
        APIError,
        APIFuture,
        APIResponseValidationError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConflictError,
        FutureExpiredError,
        FutureTimeoutError,
        InternalServerError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        RequestFailedError,
        RequestOptions,
        UnprocessableEntityError,
    )
    from .types import (
        AdamParams,
        Checkpoint,
        CheckpointType,
        Datum,
        DimuonParams,
        DmelChunk,
        EncodedTextChunk,
        ForwardBackwardOutput,
        LoraConfig,
        ModelInput,
        ModelInputChunk,
        OptimStepRequest,
        OptimStepResponse,
        ParsedCheckpointTinkerPath,
        PromptProvenanceSpan,
        SampledProvenanceSpan,
        SampledSequence,
        SampleResponse,
        SamplingParams,
        StopReason,
        TensorData,
        TensorDtype,
        TrainingRun,
    )
