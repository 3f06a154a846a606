"""``tinker.types.create_session_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateSessionRequest

__all__ = ["CreateSessionRequest"]
