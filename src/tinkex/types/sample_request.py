"""``tinker.types.sample_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SampleRequest

__all__ = ["SampleRequest"]
