"""``tinker.types.checkpoint`` of the official SDK: tinkex's own objects at that path."""

from . import Checkpoint, CheckpointType, ParsedCheckpointTinkerPath

__all__ = ["Checkpoint", "CheckpointType", "ParsedCheckpointTinkerPath"]
