"""``tinker.types.join_sampling_session_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import JoinSamplingSessionRequest

__all__ = ["JoinSamplingSessionRequest"]
