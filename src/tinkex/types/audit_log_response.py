"""``tinker.types.audit_log_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import AuditLogResponse

__all__ = ["AuditLogResponse"]
