"""``tinker.types.telemetry_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import TelemetryResponse

__all__ = ["TelemetryResponse"]
