"""``tinker.lib.public_interfaces.backcompat_training_client_future`` of the official SDK."""

from ..._service_client import TrainingClientFuture as BackcompatTrainingClientFuture

__all__ = ["BackcompatTrainingClientFuture"]
