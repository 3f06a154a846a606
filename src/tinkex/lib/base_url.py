"""``tinker.lib.base_url`` of the official SDK: the hosted service's address, tinkex's default."""

from .._generated.api import API_SPEC

DEFAULT_BASE_URL: str = API_SPEC.base_url
"""Where clients go when neither ``base_url=`` nor ``TINKER_BASE_URL`` says otherwise."""

__all__ = ["DEFAULT_BASE_URL"]
