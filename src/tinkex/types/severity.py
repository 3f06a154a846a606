"""``tinker.types.severity`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import Severity

__all__ = ["Severity"]
