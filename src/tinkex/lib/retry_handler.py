"""``tinker.lib.retry_handler`` of the official SDK: its public ``RetryConfig``."""

from .._sampling_client import RetryConfig

__all__ = ["RetryConfig"]
