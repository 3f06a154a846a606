"""``tinker.types.get_session_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import GetSessionResponse

__all__ = ["GetSessionResponse"]
