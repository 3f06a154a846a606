"""``tinker.types.search_owner`` of the official SDK: tinkex's own objects at that path."""

from .._generated.models import AccessibleSearchOwner, OwnSearchOwner, SearchOwner, UserSearchOwner

__all__ = ["AccessibleSearchOwner", "OwnSearchOwner", "SearchOwner", "UserSearchOwner"]
