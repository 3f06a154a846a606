"""``tinker.types.telemetry_event`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import TelemetryEvent

__all__ = ["TelemetryEvent"]
