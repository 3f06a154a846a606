"""``tinker.types.unhandled_exception_event`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import UnhandledExceptionEvent

__all__ = ["UnhandledExceptionEvent"]
