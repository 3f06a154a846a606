"""``tinker.types.session_heartbeat_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionHeartbeatResponse

__all__ = ["SessionHeartbeatResponse"]
