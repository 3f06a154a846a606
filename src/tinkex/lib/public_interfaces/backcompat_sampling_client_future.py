"""``tinker.lib.public_interfaces.backcompat_sampling_client_future`` of the official SDK."""

from ..._sampling_client import SamplingClientFuture as BackcompatSamplingClientFuture

__all__ = ["BackcompatSamplingClientFuture"]
