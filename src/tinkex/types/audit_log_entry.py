"""``tinker.types.audit_log_entry`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import AuditLogEntry

__all__ = ["AuditLogEntry"]
