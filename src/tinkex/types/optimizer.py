"""``tinker.types.optimizer`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import (
    AdamOptimizerConfig,
    DimuonOptimizerConfig,
    OptimizerConfig,
    OptimizerConfigBase,
)
from . import AdamParams, DimuonParams, OptimParams

__all__ = [
    "AdamOptimizerConfig",
    "AdamParams",
    "DimuonOptimizerConfig",
    "DimuonParams",
    "OptimParams",
    "OptimizerConfig",
    "OptimizerConfigBase",
]
