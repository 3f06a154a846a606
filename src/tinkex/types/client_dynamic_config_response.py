"""``tinker.types.client_dynamic_config_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import ClientDynamicConfigResponse

__all__ = ["ClientDynamicConfigResponse"]
