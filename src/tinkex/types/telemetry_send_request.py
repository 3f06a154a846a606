"""``tinker.types.telemetry_send_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import TelemetrySendRequest

__all__ = ["TelemetrySendRequest"]
