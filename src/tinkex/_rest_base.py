"""What every part of RestClient shares: its Holder (its own, or a ServiceClient's), closing, and running calls and listings on the client's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from typing import Any, Self, TypeVar, cast

from sdkgen.runtime import APIFuture, current_call_headers, using_call_headers

from ._generated import AsyncTinkerAPI
from ._holder import Holder
from ._public_call import public
from ._settings import ClientSettings

__all__ = ["RestBase"]

T = TypeVar("T")


class RestBase:
    """The shared state and helpers of RestClient's parts (see ``_rest_client``)."""

    def __init__(
        self,
        _holder: Holder | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self._owns_holder = _holder is None
        self.holder = _holder or Holder(ClientSettings.resolve(base_url=base_url, api_key=api_key))

    def __repr__(self) -> str:
        return f"RestClient(base_url={self.holder.base_url!r})"

    @public
    def close(self) -> None:
        """Close the connections (only those this RestClient opened itself)."""
        if self._owns_holder:
            self.holder.close(status=None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, coro: Coroutine[Any, Any, T], what: str) -> APIFuture[T]:
        return self.holder.submit(coro, what)

    @property
    def _api(self) -> AsyncTinkerAPI:
        return self.holder.api

    def _each(self, items: AsyncIterator[T]) -> Iterator[T]:
        """The items of a generated async iterator, one page fetched at a time on the client's
        loop, under the headers of the public call that made the iterator (``@public``)."""
        return _items_of(self.holder, items, current_call_headers())


_END: Any = object()


def _items_of(
    holder: Holder, items: AsyncIterator[T], headers: Mapping[str, str] | None
) -> Iterator[T]:
    async def step() -> T:
        try:
            return await anext(items)
        except StopAsyncIteration:
            return cast(T, _END)

    try:
        while True:
            with using_call_headers(headers):
                item = holder.run(step())
            if item is _END:
                return
            yield item
    finally:
        close = getattr(items, "aclose", None)
        if (
            close is not None and not holder.runner.closed
        ):  # left early (a CLI --limit): end the walk
            holder.run(close())
