"""A GET of a URL the manifest does not describe (a signed download URL, say, or a route of the
API outside the manifest), through the client's own connection pools, timeouts, credentials,
retry policy and error tree.

Credentials go only to the API's own origin (scheme, host and port of the client's base URL):
a URL elsewhere, or a redirect that leads elsewhere, gets none of them (no key header, no
``Authorization``, no credential in the query, none of the client's ``default_headers``).
Redirects are followed here, hop by hop, each hop deciding again, rather than by httpx, so that
a pool that does not follow redirects still can and the number of hops is bounded.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Coroutine, Mapping
from typing import Any, overload
from urllib.parse import urljoin

import httpx

from ._auth import apply_auth
from ._binary import AsyncBinaryStream, BinaryStream
from ._call_context import current_call_headers
from ._client import AsyncAPIClient, SyncAPIClient
from ._client_core import ClientCore
from ._errors import APIError, APIStatusError, status_error_class
from ._redirect import origin_of
from ._request import _user_agent
from ._response import _redact, _server_message, excerpt, request_id_of, transport_error
from ._retry import RetryInfo, RetryState
from ._spec import EndpointSpec, RetryPolicy

__all__ = ["open_url"]

#: The id errors and telemetry name a request made by :func:`open_url` with.
OPEN_URL = "open_url"
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: The most of an error answer's body read for its message.
_ERROR_BODY = 4096


class _Opening:
    """One :func:`open_url` call without I/O: the request of each hop, where a redirect leads,
    and the error for a failed hop. The twins below are the loops that send."""

    def __init__(
        self,
        client: ClientCore,
        url: str,
        *,
        timeout: float | None,
        headers: Mapping[str, str] | None,
        max_redirects: int,
        retry: RetryPolicy | str | None,
    ) -> None:
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be 0 or more, got {max_redirects!r}")
        config = client.config
        self.client = client
        # A path is under the base URL, as an endpoint's path is (``/files/1`` of
        # ``https://host/v1`` is ``https://host/v1/files/1``).
        self.url = (
            url if _ABSOLUTE.match(url) else config.base_url.rstrip("/") + "/" + url.lstrip("/")
        )
        self.max_redirects = max_redirects
        self.hops = max_redirects  # left in the current attempt
        seconds = config.timeout if timeout is None else timeout
        if seconds <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.timeout = httpx.Timeout(seconds, connect=min(config.connect_timeout, seconds))
        self.headers = dict(headers or {})
        self.origin = origin_of(httpx.URL(config.base_url))
        if isinstance(retry, str):
            if retry not in client.api.retry_policies:
                known = sorted(client.api.retry_policies)
                raise ValueError(f"no retry policy {retry!r} in the API (it has {known})")
            retry = client.api.retry_policies[retry]
        self.policy = retry or RetryPolicy(max_retries=0, deadline=None)

    def spec(self, url: str) -> EndpointSpec:
        # Where errors say the request went: the path only (a signed URL's query is a secret).
        return EndpointSpec(id=OPEN_URL, method="GET", path=httpx.URL(url).path, idempotent=True)

    def retry_state(self) -> RetryState:
        spec = self.spec(self.url)

        def report(info: RetryInfo) -> None:
            self.client.report_retry(spec, info)

        return RetryState(
            self.policy, endpoint=OPEN_URL, deadline=self.policy.deadline, report=report
        )

    def request(self, url: str) -> httpx.Request:
        """The request of one hop: credentials only when ``url`` is on the API's origin."""
        api, config = self.client.api, self.client.config
        target = httpx.URL(url)
        headers = {"User-Agent": _user_agent(api.user_agent), "Accept": "*/*"}
        params: dict[str, Any] = {}
        if origin_of(target) == self.origin:
            headers.update(config.default_headers)
            apply_auth(api, config.api_key, config.credentials, headers, params)
            headers.update(current_call_headers() or {})
        headers.update(self.headers)
        if params:
            target = target.copy_merge_params(params)
        return httpx.Request(
            "GET", target, headers=headers, extensions={"timeout": self.timeout.as_dict()}
        )

    def redirect(self, response: httpx.Response, url: str) -> str | None:
        """Where a redirect leads (``None``: not a redirect); too many hops raise."""
        location: str | None = response.headers.get("location")
        if response.status_code not in _REDIRECTS or not location:
            return None
        if self.hops == 0:
            raise self.failed_hop(response, url, b"", why="too many redirects")
        self.hops -= 1
        return urljoin(url, location)

    def failed_hop(
        self, response: httpx.Response, url: str, head: bytes, *, why: str | None = None
    ) -> APIStatusError:
        """The typed error of an error status (or of too many redirects); ``head`` is the
        start of its body. Nothing secret in it: the key is redacted, the query left out."""
        try:
            body: Any = json.loads(head) if head else None
        except ValueError:
            body = None
        message = why or _server_message(body)
        if message is not None:
            message = _redact(message, self.client.config)
        message = message or excerpt(head, self.client.config) or response.reason_phrase
        spec = self.spec(url)
        cls = status_error_class(response.status_code) if why is None else APIStatusError
        return cls(
            message or f"HTTP {response.status_code}",
            response=response,
            endpoint=OPEN_URL,
            method="GET",
            path=f"{response.request.url.host}{spec.path}",
            request_id=request_id_of(self.client.api, response),
            request=response.request,
            body=body,
        )

    def lost(self, url: str, exc: Exception) -> APIError:
        spec = self.spec(url)
        return transport_error(spec, f"{httpx.URL(url).host}{spec.path}", exc)


@overload
def open_url(
    client: SyncAPIClient,
    url: str,
    *,
    pool: str = "default",
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    max_redirects: int = 5,
    retry: RetryPolicy | str | None = None,
) -> BinaryStream: ...
@overload
def open_url(
    client: AsyncAPIClient,
    url: str,
    *,
    pool: str = "default",
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    max_redirects: int = 5,
    retry: RetryPolicy | str | None = None,
) -> Coroutine[Any, Any, AsyncBinaryStream]: ...
def open_url(
    client: SyncAPIClient | AsyncAPIClient,
    url: str,
    *,
    pool: str = "default",
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    max_redirects: int = 5,
    retry: RetryPolicy | str | None = None,
) -> BinaryStream | Coroutine[Any, Any, AsyncBinaryStream]:
    """GET ``url`` through ``client``'s pool and return its open body once a success status
    arrived (a coroutine for an asyncio client), for a URL the manifest does not describe.

    The API's credentials, the client's ``default_headers`` and the call's identifying headers
    are sent only to the API's own origin; redirects are followed (at most ``max_redirects``),
    each hop deciding again. An error status raises the client's typed error
    (:class:`NotFoundError` for 404 ...) with the server's message, the key redacted and the
    URL's query (a signature) left out; a failed connection :class:`APIConnectionError` or
    :class:`APITimeoutError`. The body is not size-limited: read it chunk by chunk. The
    client's request and response hooks do not run (a hook may add a credential, and the URL
    may be another host's).

    Args:
        client: the API client whose pools, timeouts, credentials and errors are used.
        url: an absolute URL, or a path under the client's base URL (as an endpoint's path:
            ``/files/1`` of ``https://host/v1`` is ``https://host/v1/files/1``).
        pool: the connection pool to send through (one of the API's ``pools``; an unknown
            name uses ``default``).
        timeout: seconds any one read may wait (the connect at most the client's
            ``connect_timeout``); ``None``: the client's ``timeout``.
        headers: more headers, sent on every hop (to any origin: nothing secret).
        max_redirects: the most redirects followed before giving up.
        retry: the retry policy of opening (not of reading the body): a policy, the name of
            one of the API's ``retry_policies``, or ``None`` for a single attempt. Retries
            are reported like the runtime's own (telemetry, ``on_retry``).

    Example::

        with open_url(api, signed_url, timeout=60) as body:
            body.write_to_file("model.bin")

        body = await open_url(async_api, "/v1/exports/42/archive", retry="default")
        async for chunk in body.iter_bytes(1 << 20):
            ...
    """
    opening = _Opening(
        client,
        url,
        timeout=timeout,
        headers=headers,
        max_redirects=max_redirects,
        retry=retry,
    )
    if isinstance(client, SyncAPIClient):
        return _open_sync(client, pool, opening)
    return _open_async(client, pool, opening)


def _open_sync(client: SyncAPIClient, pool: str, opening: _Opening) -> BinaryStream:
    http = client.http_client(pool)
    state = opening.retry_state()
    while True:
        state.next_attempt()
        try:
            return _hops_sync(http, opening)
        except APIError as err:
            wait = state.wait_for(err)
            if wait is False:
                raise
            time.sleep(wait)


def _hops_sync(http: httpx.Client, opening: _Opening) -> BinaryStream:
    url, opening.hops = opening.url, opening.max_redirects
    while True:
        try:
            response = http.send(opening.request(url), stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            raise opening.lost(url, exc) from exc
        try:
            following = opening.redirect(response, url)
            if following is None and response.status_code < 300:
                return BinaryStream(response, opening.spec(url), opening.spec(url).path)
            head = b"" if following is not None else _head_sync(response)
        finally:
            if response.status_code >= 300:
                response.close()
        if following is None:
            raise opening.failed_hop(response, url, head)
        url = following


def _head_sync(response: httpx.Response) -> bytes:
    data = bytearray()
    try:
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= _ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status says what happened; the body only adds to the message
    return bytes(data[:_ERROR_BODY])


async def _open_async(client: AsyncAPIClient, pool: str, opening: _Opening) -> AsyncBinaryStream:
    http = client.http_client(pool)  # the pool of the running loop
    state = opening.retry_state()
    while True:
        state.next_attempt()
        try:
            return await _hops_async(http, opening)
        except APIError as err:
            wait = state.wait_for(err)
            if wait is False:
                raise
            await asyncio.sleep(wait)


async def _hops_async(http: httpx.AsyncClient, opening: _Opening) -> AsyncBinaryStream:
    url, opening.hops = opening.url, opening.max_redirects
    while True:
        try:
            response = await http.send(opening.request(url), stream=True, follow_redirects=False)
        except httpx.TransportError as exc:
            raise opening.lost(url, exc) from exc
        try:
            following = opening.redirect(response, url)
            if following is None and response.status_code < 300:
                return AsyncBinaryStream(response, opening.spec(url), opening.spec(url).path)
            head = b"" if following is not None else await _head_async(response)
        finally:
            if response.status_code >= 300:
                await response.aclose()
        if following is None:
            raise opening.failed_hop(response, url, head)
        url = following


async def _head_async(response: httpx.Response) -> bytes:
    data = bytearray()
    chunks = response.aiter_bytes()
    try:
        async for chunk in chunks:
            data += chunk
            if len(data) >= _ERROR_BODY:
                break
    except httpx.HTTPError:
        pass  # the status says what happened; the body only adds to the message
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return bytes(data[:_ERROR_BODY])
