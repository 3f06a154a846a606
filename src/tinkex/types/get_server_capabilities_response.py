"""``tinker.types.get_server_capabilities_response`` of the official SDK: tinkex's own objects at that path."""

from . import GetServerCapabilitiesResponse, SupportedModel

__all__ = ["GetServerCapabilitiesResponse", "SupportedModel"]
