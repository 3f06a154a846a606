"""``tinker.types.training_runs_response`` of the official SDK: tinkex's own objects at that path."""

from . import TrainingRunsResponse

__all__ = ["TrainingRunsResponse"]
