"""``tinker.types.sampling_client_kind`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SamplingClientKind

__all__ = ["SamplingClientKind"]
