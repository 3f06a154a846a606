"""Base classes of generated resource classes: a resource is a view on its client."""

from __future__ import annotations

from typing import Generic, TypeVar

from ._client import AsyncAPIClient, SyncAPIClient

__all__ = ["AsyncAPIResource", "SyncAPIResource"]

C = TypeVar("C")


class _Resource(Generic[C]):
    def __init__(self, client: C) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


class SyncAPIResource(_Resource[SyncAPIClient]):
    """A group of endpoints, called synchronously."""


class AsyncAPIResource(_Resource[AsyncAPIClient]):
    """A group of endpoints, called with ``await``."""
