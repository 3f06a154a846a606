"""``tinker.types.whoami_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import WhoamiResponse

__all__ = ["WhoamiResponse"]
