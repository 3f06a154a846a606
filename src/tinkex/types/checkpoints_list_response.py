"""``tinker.types.checkpoints_list_response`` of the official SDK: tinkex's own objects at that path."""

from . import CheckpointsListResponse

__all__ = ["CheckpointsListResponse"]
