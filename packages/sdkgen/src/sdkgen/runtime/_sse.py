"""Server-sent-event streams decoded into typed events (httpx-sse underneath).

A stream owns its HTTP response: leaving the ``with`` block, calling ``close()``, or stopping the
iteration early closes the connection. An ``event: error`` frame raises the typed error instead of
being handed out as data. There is no silent reconnect: a dropped stream raises; resume with the
``Last-Event-ID`` header (``extra_headers={"Last-Event-ID": stream.last_event_id}``) where the
server supports it.

Which event names carry data of which type, which end the stream and which are skipped is an
:class:`EventRoutes` (generated from the manifest's ``stream`` entry); a plain type is the routes
of a stream whose every event carries that type.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, Self, TypeVar

import httpx
from httpx_sse import EventSource, ServerSentEvent
from pydantic import TypeAdapter, ValidationError

from ._errors import APIConnectionError, APIError, APIResponseValidationError
from ._spec import EndpointSpec

__all__ = ["AsyncStream", "EventRoutes", "ServerEvent", "Stream"]

E = TypeVar("E")

# SSE's name for an event without an `event:` line.
_UNNAMED = "message"


@dataclass(frozen=True, slots=True)
class ServerEvent(Generic[E]):
    """One event of a stream: its name (``message`` when unnamed), its id, its decoded data.

    ``id`` is the stream's last event id when this event arrived (an event without an ``id:``
    line keeps the previous one, as the SSE standard says); ``retry`` the reconnection delay
    in milliseconds the event asked for, if any.
    """

    name: str
    id: str | None
    data: E
    retry: int | None = None


class EventRoutes:
    """Where each event name goes: data of a type, the stream's end, or nowhere.

    Args:
        default: the data type of unnamed (``message``) events; None when the stream has none.
        events: event name -> the data type of that name's events.
        end: names that end the stream (their data is not read).
        ignore: names that are skipped (``ping``, say).
        unknown: what a name listed nowhere is: ``data`` (validated as ``default``), ``ignore``
            or ``error`` (``APIResponseValidationError``).

    Example::

        routes = EventRoutes(Delta, events={"usage": Usage}, end=("done",), ignore=("ping",))
        stream = client.stream(spec, cast(Any, routes))
    """

    def __init__(
        self,
        default: Any = None,
        *,
        events: Mapping[str, Any] | None = None,
        end: tuple[str, ...] = (),
        ignore: tuple[str, ...] = (),
        unknown: Literal["data", "ignore", "error"] = "data",
    ) -> None:
        if unknown == "data" and default is None:
            raise ValueError("unknown='data' needs a default type; use 'ignore' or 'error'")
        self._types: dict[str, Any] = dict(events or {})
        if default is not None:
            self._types.setdefault(_UNNAMED, default)
        self.default = default
        self.end = frozenset(end)
        self.ignore = frozenset(ignore)
        self.unknown = unknown
        # Built on first use, then shared by every stream of the endpoint (a benign race: two
        # threads may each build one).
        self._adapters: dict[str, TypeAdapter[Any]] = {}

    def route(self, name: str) -> TypeAdapter[Any] | Literal["end", "ignore", "error"]:
        """The adapter that decodes ``name``'s data, or what to do instead."""
        if name in self.end:
            return "end"
        if name in self.ignore:
            return "ignore"
        if name in self._types:
            key = name
        elif self.unknown != "data":
            return self.unknown
        else:
            key = _UNNAMED  # validated as the unnamed events' type (there is one: __init__)
        adapter = self._adapters.get(key)
        if adapter is None:
            adapter = self._adapters[key] = TypeAdapter(self._types[key])
        return adapter


_END = object()  # _decode's "the stream is over"


class _StreamCore(Generic[E]):
    def __init__(
        self,
        response: httpx.Response,
        event_type: type[E] | EventRoutes,
        *,
        spec: EndpointSpec,
        path: str,
    ) -> None:
        self.response = response
        self._routes = (
            event_type if isinstance(event_type, EventRoutes) else EventRoutes(event_type)
        )
        self._spec = spec
        self._path = path
        # The id of the last event received (to resume with `Last-Event-ID`), and its name.
        self.last_event_id: str | None = None
        self.last_event_name: str | None = None
        ctype = response.headers.get("content-type", "")
        if "text/event-stream" not in ctype:
            raise APIResponseValidationError(
                f"expected an event stream, got {ctype or 'no content-type'}",
                endpoint=spec.id,
                method=spec.method,
                path=path,
                status_code=response.status_code,
            )

    def _decode(self, sse: ServerSentEvent) -> ServerEvent[E] | object | None:
        """The event, ``None`` to skip it, or ``_END`` when it ends the stream."""
        # httpx-sse carries the last id over events without an `id:` line, as the standard says.
        self.last_event_id = sse.id or None
        self.last_event_name = sse.event
        if not sse.data and sse.event == _UNNAMED:
            return None  # keep-alive
        if sse.event == "error":
            raise self._server_error(sse)
        route = self._routes.route(sse.event)
        if route == "end":
            return _END
        if route == "ignore":
            return None
        if route == "error":
            raise APIResponseValidationError(
                f"unexpected stream event `{sse.event}` (the endpoint lists no such event)",
                endpoint=self._spec.id,
                method=self._spec.method,
                path=self._path,
            )
        assert isinstance(route, TypeAdapter)
        try:
            data: E = route.validate_json(sse.data)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "<root>"
            raise APIResponseValidationError(
                f"stream event `{sse.event}` does not match its schema: field `{loc}`: "
                f"{first['msg']}",
                endpoint=self._spec.id,
                method=self._spec.method,
                path=self._path,
            ) from err
        return ServerEvent(sse.event, self.last_event_id, data, sse.retry)

    def _server_error(self, sse: ServerSentEvent) -> APIError:
        try:
            payload: Any = json.loads(sse.data)
        except ValueError:
            payload = sse.data
        detail = payload.get("message") if isinstance(payload, dict) else None
        return APIError(
            f"the server reported an error mid-stream: {detail or payload}",
            endpoint=self._spec.id,
            method=self._spec.method,
            path=self._path,
            status_code=self.response.status_code,
            body=payload,
        )

    def _dropped(self, exc: Exception) -> APIConnectionError:
        return APIConnectionError(
            f"the event stream broke off: {type(exc).__name__}: {exc}",
            endpoint=self._spec.id,
            method=self._spec.method,
            path=self._path,
        )


class Stream(_StreamCore[E]):
    """An iterator of typed events; a context manager that closes the connection.

    Iterating yields each event's data; :meth:`events` yields :class:`ServerEvent` (name, id).
    """

    def __iter__(self) -> Iterator[E]:
        events = self.events()
        try:
            for event in events:
                yield event.data
        finally:
            events.close()  # at once, not when collected: it hangs up

    def events(self) -> Generator[ServerEvent[E], None, None]:
        """Every data event with its name and id, until the stream ends (then it is closed)."""
        try:
            for sse in EventSource(self.response).iter_sse():
                event = self._decode(sse)
                if event is _END:
                    return
                if isinstance(event, ServerEvent):
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
    """An async iterator of typed events; an async context manager that closes the connection.

    Iterating yields each event's data; :meth:`events` yields :class:`ServerEvent` (name, id).
    """

    async def __aiter__(self) -> AsyncIterator[E]:
        events = self.events()
        try:
            async for event in events:
                yield event.data
        finally:
            await events.aclose()  # at once, not when collected: it hangs up

    async def events(self) -> AsyncGenerator[ServerEvent[E], None]:
        """Every data event with its name and id, until the stream ends (then it is closed)."""
        try:
            async for sse in EventSource(self.response).aiter_sse():
                event = self._decode(sse)
                if event is _END:
                    return
                if isinstance(event, ServerEvent):
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
