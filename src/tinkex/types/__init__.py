"""The types of the Tinker API, with the helpers training loops use.

Wire models come from the generated layer; the classes here add conveniences (``ModelInput``
builders, ``TensorData`` numpy/torch conversion, ``Datum`` coercion, ``tinker://`` parsing).
"""

from __future__ import annotations

from .._generated.models import (
    AdamParams,
    Checkpoint,
    CheckpointsListResponse,
    CheckpointType,
    CreateModelResponse,
    Cursor,
    DimuonParams,
    ExternalWeightsUrlsResponse,
    GetInfoResponse,
    GetServerCapabilitiesResponse,
    LoadWeightsResponse,
    LoraConfig,
    LossFnType,
    ModelData,
    OptimStepResponse,
    PromptProvenanceSpan,
    QueueState,
    RequestErrorCategory,
    SampledProvenanceSpan,
    SamplingParams,
    SaveWeightsExternalResponse,
    SaveWeightsForSamplerResponse,
    SaveWeightsResponse,
    StopReason,
    SupportedModel,
    TrainingRun,
    TrainingRunsResponse,
    WeightsInfoResponse,
)
from ._model_input import (
    DmelChunk,
    EncodedTextChunk,
    ImageAssetPointerChunk,
    ImageChunk,
    ModelInput,
    ModelInputChunk,
)
from ._outputs import ForwardBackwardOutput, SampledSequence, SampleResponse
from ._paths import ParsedCheckpointTinkerPath
from ._tensor import Datum, TensorData, TensorDtype

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
    "LossFnType",
    "ModelData",
    "ModelInput",
    "ModelInputChunk",
    "OptimStepResponse",
    "ParsedCheckpointTinkerPath",
    "PromptProvenanceSpan",
    "QueueState",
    "RequestErrorCategory",
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
