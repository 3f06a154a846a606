"""``tinker.types.auth_token_response`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import AuthTokenResponse

__all__ = ["AuthTokenResponse"]
