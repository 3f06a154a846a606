"""``tinker.types.session_heartbeat_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionHeartbeatRequest

__all__ = ["SessionHeartbeatRequest"]
