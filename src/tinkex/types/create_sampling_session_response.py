"""``tinker.types.create_sampling_session_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import CreateSamplingSessionResponse

__all__ = ["CreateSamplingSessionResponse"]
