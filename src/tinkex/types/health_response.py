"""``tinker.types.health_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import HealthResponse

__all__ = ["HealthResponse"]
