"""The types of the Tinker API, with the helpers training loops use.

Wire models come from the generated layer; the classes here add conveniences (``ModelInput``
builders, ``TensorData`` numpy/torch conversion, ``Datum`` coercion, ``tinker://`` parsing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

from .._generated.models import (
    AdamParams,
    CheckpointType,
    CreateModelResponse,
    DimuonParams,
    GetInfoResponse,
    GetServerCapabilitiesResponse,
    LoraConfig,
    LossFnType,
    ModelData,
    OptimStepResponse,
    PromptProvenanceSpan,
    QueueState,
    RequestErrorCategory,
    SampledProvenanceSpan,
    SamplingParams,
    StopReason,
    SupportedModel,
)
from ._model_input import (
    DmelChunk,
    EncodedTextChunk,
    ImageAssetPointerChunk,
    ImageChunk,
    ModelInput,
    ModelInputChunk,
)
from ._outputs import ForwardBackwardOutput, OptimStepRequest, SampledSequence, SampleResponse
from ._paths import ParsedCheckpointTinkerPath
from ._tensor import Datum, TensorData, TensorDtype

if TYPE_CHECKING:
    # Not needed by import or a first request: made on first use (`__getattr__` below).
    from .._generated.models import (
        Checkpoint,
        CheckpointsListResponse,
        Cursor,
        ExternalWeightsUrlsResponse,
        LoadWeightsResponse,
        SaveWeightsExternalResponse,
        SaveWeightsForSamplerResponse,
        SaveWeightsResponse,
        TrainingRun,
        TrainingRunsResponse,
        WeightsInfoResponse,
    )

ModelID: TypeAlias = str
"""A training run's id, as ``TrainingClient.model_id`` holds it."""
RequestID: TypeAlias = str
"""The id of a request whose result is polled for (a future's id)."""
LossFnInputs: TypeAlias = dict[str, TensorData]
"""A datum's loss inputs by name (``target_tokens``, ``weights``, ...)."""
LossFnOutput: TypeAlias = dict[str, TensorData]
"""A datum's loss outputs by name (``logprobs``, ...)."""
OptimParams: TypeAlias = AdamParams | DimuonParams
"""The hyper-parameters of one optimizer step: ``AdamParams`` or ``DimuonParams``."""
ProvenanceSpans: TypeAlias = list[PromptProvenanceSpan | SampledProvenanceSpan]
"""Where each token came from: prompt or sampled spans (``Datum.with_provenance``)."""


def __getattr__(name: str) -> Any:
    # Every other wire model of the API is a type too (e.g. ``types.CreateModelRequest``).
    from .._generated import models

    try:
        return getattr(models, name)
    except AttributeError:
        raise AttributeError(f"module 'tinkex.types' has no attribute {name!r}") from None


__all__ = [
    "AdamParams",
    "Checkpoint",
    "CheckpointType",
    "CheckpointsListResponse",
    "CreateModelResponse",
    "Cursor",
    "Datum",
    "DimuonParams",
    "DmelChunk",
    "EncodedTextChunk",
    "ExternalWeightsUrlsResponse",
    "ForwardBackwardOutput",
    "GetInfoResponse",
    "GetServerCapabilitiesResponse",
    "ImageAssetPointerChunk",
    "ImageChunk",
    "LoadWeightsResponse",
    "LoraConfig",
    "LossFnInputs",
    "LossFnOutput",
    "LossFnType",
    "ModelData",
    "ModelID",
    "ModelInput",
    "ModelInputChunk",
    "OptimParams",
    "OptimStepRequest",
    "OptimStepResponse",
    "ParsedCheckpointTinkerPath",
    "PromptProvenanceSpan",
    "ProvenanceSpans",
    "QueueState",
    "RequestErrorCategory",
    "RequestID",
    "SampleResponse",
    "SampledProvenanceSpan",
    "SampledSequence",
    "SamplingParams",
    "SaveWeightsExternalResponse",
    "SaveWeightsForSamplerResponse",
    "SaveWeightsResponse",
    "StopReason",
    "SupportedModel",
    "TensorData",
    "TensorDtype",
    "TrainingRun",
    "TrainingRunsResponse",
    "WeightsInfoResponse",
]
