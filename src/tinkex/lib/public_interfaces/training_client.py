"""``tinker.lib.public_interfaces.training_client`` of the official SDK.

``CustomLossFnV1``, the type of a ``forward_backward_custom`` loss function, is tinkex's
``CustomLossFn`` (same shape: ``(data, logprobs) -> (loss, metrics)``).
"""

from ..._sampling_client import RetryConfig
from ..._training_client import CustomLossFn as CustomLossFnV1, TrainingClient

__all__ = ["CustomLossFnV1", "RetryConfig", "TrainingClient"]
