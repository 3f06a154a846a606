"""``tinker.types.optim_step_request`` of the official SDK: tinkex's own objects at that path."""

from . import AdamParams, OptimStepRequest

__all__ = ["AdamParams", "OptimStepRequest"]
