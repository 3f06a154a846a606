"""``tinker.lib.public_interfaces.sampling_client`` of the official SDK.

``RetryConfig`` is importable from here too, as code written for the official SDK does.
"""

from ..._sampling_client import RetryConfig, SamplingClient

__all__ = ["RetryConfig", "SamplingClient"]
