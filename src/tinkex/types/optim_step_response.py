"""``tinker.types.optim_step_response`` of the official SDK: tinkex's own objects at that path."""

from . import OptimStepResponse

__all__ = ["OptimStepResponse"]
