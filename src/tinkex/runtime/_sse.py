"""Server-sent-event streams decoded into typed events (httpx-sse underneath).

A stream owns its HTTP response: leaving the ``with`` block, calling ``close()``, or stopping the
iteration early closes the connection. An ``event: error`` frame raises the typed error instead of
being handed out as data. There is no silent reconnect: a dropped stream raises.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any, Generic, Self, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import TypeAdapter, ValidationError

from ._errors import APIConnectionError, APIError, APIResponseValidationError
from ._spec import EndpointSpec

__all__ = ["AsyncStream", "Stream"]

E = TypeVar("E")


class _StreamCore(Generic[E]):
    def __init__(
        self, response: httpx.Response, event_type: type[E], *, spec: EndpointSpec, path: str
    ) -> None:
        self.response = response
        self._adapter: TypeAdapter[E] = TypeAdapter(event_type)
        self._spec = spec
        self._path = path
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" not in ctype:
            raise APIResponseValidationError(
                f"expected an event stream, got {ctype or 'no content-type'}",
                endpoint=spec.id,
                method=spec.method,
                path=path,
                status_code=response.status_code,
            )

    def _decode(self, sse: ServerSentEvent) -> E | None:
        if not sse.data and sse.event == "message":
            return None  # keep-alive
        if sse.event == "error":
            try:
                payload: Any = json.loads(sse.data)
            except ValueError:
                payload = sse.data
            detail = payload.get("message") if isinstance(payload, dict) else None
            raise APIError(
                f"the server reported an error mid-stream: {detail or payload}",
                endpoint=self._spec.id,
                method=self._spec.method,
                path=self._path,
                status_code=self.response.status_code,
                body=payload,
            )
        try:
            return self._adapter.validate_json(sse.data)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "<root>"
            raise APIResponseValidationError(
                f"stream event does not match its schema: field `{loc}`: {first['msg']}",
                endpoint=self._spec.id,
                method=self._spec.method,
                path=self._path,
            ) from err

    def _dropped(self, exc: Exception) -> APIConnectionError:
        return APIConnectionError(
            f"the event stream broke off: {type(exc).__name__}: {exc}",
            endpoint=self._spec.id,
            method=self._spec.method,
            path=self._path,
        )


class Stream(_StreamCore[E]):
    """An iterator of typed events; a context manager that closes the connection."""

    def __iter__(self) -> Iterator[E]:
        try:
            for sse in EventSource(self.response).iter_sse():
                event = self._decode(sse)
                if event is not None:
                    yield event
        except httpx.TransportError as exc:
            raise self._dropped(exc) from exc
        finally:
            self.close()

    def close(self) -> None:
        self.response.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(_StreamCore[E]):
    """An async iterator of typed events; an async context manager that closes the connection."""

    async def __aiter__(self) -> AsyncIterator[E]:
        try:
            async for sse in EventSource(self.response).aiter_sse():
                event = self._decode(sse)
                if event is not None:
                    yield event
        except httpx.TransportError as exc:
            raise self._dropped(exc) from exc
        finally:
            await self.close()

    async def close(self) -> None:
        await self.response.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
