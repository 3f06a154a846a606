"""``tinker.types.session_summary`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import SessionSummary

__all__ = ["SessionSummary"]
