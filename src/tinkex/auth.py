"""Checking that the configured server and credential work."""

from __future__ import annotations

from ._holder import Holder
from ._settings import ClientSettings

__all__ = ["raise_if_tinker_not_accessible"]


def raise_if_tinker_not_accessible(base_url: str | None = None, api_key: str | None = None) -> None:
    """One call to the server's capabilities endpoint, without retries; raises on any failure
    (``AuthenticationError`` for a bad key, ``BillingError`` for a billing problem)."""
    holder = Holder(ClientSettings.resolve(base_url=base_url, api_key=api_key, max_retries=0))
    try:
        holder.run(holder.api.service.get_server_capabilities(max_retries=0))
    finally:
        holder.close(status=None)
