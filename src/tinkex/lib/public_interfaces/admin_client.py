"""``tinker.lib.public_interfaces.admin_client`` of the official SDK."""

from ..._compat import AdminClient

__all__ = ["AdminClient"]
