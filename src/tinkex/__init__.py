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
import sys
from typing import TYPE_CHECKING, Any

if "httpx" not in sys.modules:
    # httpx imports its command-line client (httpx._main) whenever click and rich are
    # installed, and with them pygments: about 15 MiB and tens of milliseconds that an SDK
    # never uses. Marking that module absent makes httpx skip it (its ``main`` then says the
    # CLI's dependencies are missing; the ``httpx`` command itself runs in its own process).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from ._tinker_alias import _install_finder as _install_alias_finder

__title__ = "tinkex"

# The public names, declared here once: name -> module (":attr" where the name differs there).
# The `if TYPE_CHECKING:` imports at the end, which type checkers read, are written from this
# map by `make codegen` (`python -m sdkgen exports`); `make check-codegen` fails when stale.
_EXPORTS: dict[str, str] = {
    # clients
    "ServiceClient": "._service_client",
    "TrainingClient": "._training_client",
    "SamplingClient": "._sampling_client",
    "RestClient": "._rest_client",
    "RetryConfig": "._sampling_client",
    "APIFuture": "sdkgen.runtime",
    "BackcompatTrainingClientFuture": "._service_client:TrainingClientFuture",
    "BackcompatSamplingClientFuture": "._sampling_client:SamplingClientFuture",
    "AdminClient": "._compat",
    "LossHandle": "._compat",
    "ExperimentalWarning": "._compat",
    "ModelID": "._compat",
    "OptimParams": "._compat",
    "PerDatumLossFn": "._compat",
    "Timeout": "._compat",
    "RequestOptions": "sdkgen.runtime",
    "install_as_tinker": "._tinker_alias",
    # errors
    "TinkerError": "._compat",
    "BillingError": "._compat",
    "APIError": "sdkgen.runtime",
    "APIStatusError": "sdkgen.runtime",
    "APIConnectionError": "sdkgen.runtime",
    "APITimeoutError": "sdkgen.runtime",
    "APIResponseValidationError": "sdkgen.runtime",
    "AmbiguousOutcomeError": "sdkgen.runtime",
    "ResponseLostError": "sdkgen.runtime",
    "ResponseTooLargeError": "sdkgen.runtime",
    "CircuitOpenError": "sdkgen.runtime",
    "AuthenticationError": "sdkgen.runtime",
    "BadRequestError": "sdkgen.runtime",
    "ConflictError": "sdkgen.runtime",
    "InternalServerError": "sdkgen.runtime",
    "NotFoundError": "sdkgen.runtime",
    "PermissionDeniedError": "sdkgen.runtime",
    "RateLimitError": "sdkgen.runtime",
    "RequestFailedError": "sdkgen.runtime",
    "UnprocessableEntityError": "sdkgen.runtime",
    "FutureExpiredError": "sdkgen.runtime",
    "FutureTimeoutError": "sdkgen.runtime",
    "ClientClosedError": "sdkgen.runtime",
    "ConfigError": "sdkgen.runtime",
    "SDKError": "sdkgen.runtime",
    "ServerUnreachableError": "sdkgen.runtime",
    "GoneError": "sdkgen.runtime",
    "PaymentRequiredError": "sdkgen.runtime",
    "RequestTimeoutError": "sdkgen.runtime",
    "FutureCancelledError": "sdkgen.runtime",
    "PaginationLoopError": "sdkgen.runtime",
    "WireInputError": "._proto",
    "SampleResultsPollError": "._sample_results_poller",
    "SampleResultTimeoutError": "._sample_results_poller",
    "InvalidTinkerPathError": "._download",
    "InvalidInputError": "._validation",
    "InputTypeError": "._validation",
    "DownloadError": "._download",
    "CorruptArchiveError": "._download",
    "UnsafeArchiveError": "._download",
    "OutputExistsError": "._download",
    "CheckpointNotFoundError": "._download",
    "RecoveryError": ".recovery",
    "RecoveryExhaustedError": ".recovery",
    "RegularizerError": ".regularizers",
    "RolloutError": ".rollouts",
    "RolloutTimeoutError": ".rollouts",
    "PickledCredentialsWarning": "._sampler_pickle",
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
_MODULES = {
    "types",
    "auth",
    "runtime",
    "lowlevel",
    "recovery",
    "regularizers",
    "metrics",
    "rollouts",
    "local",
}

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


# `sys.modules["tinker"] = tinkex` then `import tinker.types.tensor_data` gives tinkex's module.
_install_alias_finder()


# lazy-exports: begin (written by `python -m sdkgen exports` from _EXPORTS; do not edit)
if TYPE_CHECKING:
    from sdkgen.runtime import (
        AmbiguousOutcomeError as AmbiguousOutcomeError,
        APIConnectionError as APIConnectionError,
        APIError as APIError,
        APIFuture as APIFuture,
        APIResponseValidationError as APIResponseValidationError,
        APIStatusError as APIStatusError,
        APITimeoutError as APITimeoutError,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        CircuitOpenError as CircuitOpenError,
        ClientClosedError as ClientClosedError,
        ConfigError as ConfigError,
        ConflictError as ConflictError,
        FutureCancelledError as FutureCancelledError,
        FutureExpiredError as FutureExpiredError,
        FutureTimeoutError as FutureTimeoutError,
        GoneError as GoneError,
        InternalServerError as InternalServerError,
        NotFoundError as NotFoundError,
        PaginationLoopError as PaginationLoopError,
        PaymentRequiredError as PaymentRequiredError,
        PermissionDeniedError as PermissionDeniedError,
        RateLimitError as RateLimitError,
        RequestFailedError as RequestFailedError,
        RequestOptions as RequestOptions,
        RequestTimeoutError as RequestTimeoutError,
        ResponseLostError as ResponseLostError,
        ResponseTooLargeError as ResponseTooLargeError,
        SDKError as SDKError,
        ServerUnreachableError as ServerUnreachableError,
        UnprocessableEntityError as UnprocessableEntityError,
    )

    from . import (
        auth as auth,
        local as local,
        lowlevel as lowlevel,
        metrics as metrics,
        recovery as recovery,
        regularizers as regularizers,
        rollouts as rollouts,
        runtime as runtime,
        types as types,
    )
    from ._compat import (
        AdminClient as AdminClient,
        BillingError as BillingError,
        ExperimentalWarning as ExperimentalWarning,
        LossHandle as LossHandle,
        ModelID as ModelID,
        OptimParams as OptimParams,
        PerDatumLossFn as PerDatumLossFn,
        Timeout as Timeout,
        TinkerError as TinkerError,
    )
    from ._download import (
        CheckpointNotFoundError as CheckpointNotFoundError,
        CorruptArchiveError as CorruptArchiveError,
        DownloadError as DownloadError,
        InvalidTinkerPathError as InvalidTinkerPathError,
        OutputExistsError as OutputExistsError,
        UnsafeArchiveError as UnsafeArchiveError,
    )
    from ._generated.models import (
        AdamOptimizerConfig as AdamOptimizerConfig,
        DimuonOptimizerConfig as DimuonOptimizerConfig,
        SampleRequest as SampleRequest,
    )
    from ._proto import WireInputError as WireInputError
    from ._rest_client import RestClient as RestClient
    from ._sample_results_poller import (
        SampleResultsPollError as SampleResultsPollError,
        SampleResultTimeoutError as SampleResultTimeoutError,
    )
    from ._sampler_pickle import PickledCredentialsWarning as PickledCredentialsWarning
    from ._sampling_client import (
        RetryConfig as RetryConfig,
        SamplingClient as SamplingClient,
        SamplingClientFuture as BackcompatSamplingClientFuture,
    )
    from ._service_client import (
        ServiceClient as ServiceClient,
        TrainingClientFuture as BackcompatTrainingClientFuture,
    )
    from ._tinker_alias import install_as_tinker as install_as_tinker
    from ._training_client import TrainingClient as TrainingClient
    from ._validation import (
        InputTypeError as InputTypeError,
        InvalidInputError as InvalidInputError,
    )
    from .recovery import (
        RecoveryError as RecoveryError,
        RecoveryExhaustedError as RecoveryExhaustedError,
    )
    from .regularizers import RegularizerError as RegularizerError
    from .rollouts import RolloutError as RolloutError, RolloutTimeoutError as RolloutTimeoutError
    from .types import (
        AdamParams as AdamParams,
        Checkpoint as Checkpoint,
        CheckpointType as CheckpointType,
        Datum as Datum,
        DimuonParams as DimuonParams,
        DmelChunk as DmelChunk,
        EncodedTextChunk as EncodedTextChunk,
        ForwardBackwardOutput as ForwardBackwardOutput,
        LoraConfig as LoraConfig,
        ModelInput as ModelInput,
        ModelInputChunk as ModelInputChunk,
        OptimStepRequest as OptimStepRequest,
        OptimStepResponse as OptimStepResponse,
        ParsedCheckpointTinkerPath as ParsedCheckpointTinkerPath,
        PromptProvenanceSpan as PromptProvenanceSpan,
        SampledProvenanceSpan as SampledProvenanceSpan,
        SampledSequence as SampledSequence,
        SampleResponse as SampleResponse,
        SamplingParams as SamplingParams,
        StopReason as StopReason,
        TensorData as TensorData,
        TensorDtype as TensorDtype,
        TrainingRun as TrainingRun,
    )
# lazy-exports: end
