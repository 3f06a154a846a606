"""``tinker.lib.public_interfaces.service_client`` of the official SDK.

``RetryConfig`` is importable from here too, as code written for the official SDK does.
"""

from ..._sampling_client import RetryConfig
from ..._service_client import ServiceClient

__all__ = ["RetryConfig", "ServiceClient"]
