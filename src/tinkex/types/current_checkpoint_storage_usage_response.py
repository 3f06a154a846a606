"""``tinker.types.current_checkpoint_storage_usage_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import (
    CurrentCheckpointStorageUsageItem,
    CurrentCheckpointStorageUsageResponse,
)

__all__ = ["CurrentCheckpointStorageUsageItem", "CurrentCheckpointStorageUsageResponse"]
