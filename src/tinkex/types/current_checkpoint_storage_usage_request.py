"""``tinker.types.current_checkpoint_storage_usage_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import GetCurrentCheckpointStorageUsageRequest

__all__ = ["GetCurrentCheckpointStorageUsageRequest"]
