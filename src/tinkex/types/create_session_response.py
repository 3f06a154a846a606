"""``tinker.types.create_session_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateSessionResponse

__all__ = ["CreateSessionResponse"]
