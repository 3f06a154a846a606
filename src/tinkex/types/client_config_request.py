"""``tinker.types.client_config_request`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ClientConfigRequest

__all__ = ["ClientConfigRequest"]
