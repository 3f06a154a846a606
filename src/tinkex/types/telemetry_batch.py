"""``tinker.types.telemetry_batch`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import TelemetryBatch

__all__ = ["TelemetryBatch"]
