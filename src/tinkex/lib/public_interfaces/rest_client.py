"""``tinker.lib.public_interfaces.rest_client`` of the official SDK."""

from ..._rest_client import RestClient

__all__ = ["RestClient"]
