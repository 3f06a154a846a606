"""``tinker.types.training_run`` of the official SDK: tinkex's own objects at that path."""

from . import TrainingRun

__all__ = ["TrainingRun"]
