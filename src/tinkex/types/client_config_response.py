"""``tinker.types.client_config_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ClientConfigResponse

__all__ = ["ClientConfigResponse"]
