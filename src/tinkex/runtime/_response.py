"""Turning an ``httpx.Response`` into a typed result, or into the right exception."""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable
from typing import Any, TypeVar, cast

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from ._config import ClientConfig
from ._errors import (
    AmbiguousOutcomeError,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    status_error_class,
)
from ._spec import APISpec, EndpointSpec

__all__ = ["decode_response", "excerpt", "request_id_of", "status_error", "transport_error"]

T = TypeVar("T")
_EXCERPT = 200


@functools.lru_cache(maxsize=512)
def type_adapter(tp: Hashable) -> TypeAdapter[Any]:
    # Building an adapter costs more than validating a small reply: build each one once.
    return TypeAdapter(cast(Any, tp))


def request_id_of(api: APISpec, response: httpx.Response) -> str | None:
    for name in api.request_id_headers:
        value: str | None = response.headers.get(name)
        if value:
            return value
    return None


_MIN_SECRET = 6  # shorter "keys" are test values; replacing them would garble messages


def _redact(text: str, config: ClientConfig) -> str:
    if config.api_key is not None:
        secret = config.api_key.get_secret_value()
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, "<redacted>")
    return text


def excerpt(content: bytes, config: ClientConfig, limit: int = _EXCERPT) -> str:
    """A short, printable, secret-free excerpt of a body for an error message."""
    text = _redact(content[: limit * 4].decode("utf-8", errors="replace"), config)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _server_message(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict | list) and value:
                return json.dumps(value)[:_EXCERPT]
    return None


def status_error(
    api: APISpec, config: ClientConfig, spec: EndpointSpec, response: httpx.Response, path: str
) -> APIStatusError:
    """The typed exception for an error status; the body must already be read."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    server_message = _server_message(body)
    if server_message is not None:
        # A server may echo the credential back (e.g. "unknown key sk-..."): never show it.
        server_message = _redact(server_message, config)
    message = server_message or excerpt(response.content, config) or response.reason_phrase
    if response.status_code == 404 and (message or "").strip().lower() in ("", "not found"):
        # A bare 404 is what a server says for a route it does not have: say which.
        message = (
            f"not found: the server at {response.request.url.host} does not serve `{spec.id}` "
            f"({spec.method} {spec.path}), or the resource it names does not exist"
        )
    cls = status_error_class(response.status_code)
    return cls(
        message or f"HTTP {response.status_code}",
        response=response,
        endpoint=spec.id,
        method=spec.method,
        path=path,
        request_id=request_id_of(api, response),
        request=response.request,
        body=body,
    )


# Failures after the request may have reached the server; connect and write failures are not
# (a server does not act on a request it never received in full).
_MAYBE_DELIVERED = (httpx.ReadError, httpx.ReadTimeout, httpx.RemoteProtocolError)


def transport_error(
    spec: EndpointSpec, path: str, exc: Exception, *, resend_ambiguous: bool = True
) -> APIError:
    """Map an httpx failure to the runtime's error.

    A state-changing request (not ``idempotent``) whose answer was lost after it may have been
    delivered becomes :class:`AmbiguousOutcomeError`, which is never retried, unless the caller
    says resending is safe (the server deduplicates).
    """
    kind = type(exc).__name__
    detail = str(exc) or kind
    where: dict[str, Any] = {"endpoint": spec.id, "method": spec.method, "path": path}
    if isinstance(exc, httpx.DecodingError):
        return APIResponseValidationError(
            f"the response body could not be decoded: {detail}", **where
        )
    if isinstance(exc, _MAYBE_DELIVERED) and not spec.idempotent and not resend_ambiguous:
        return AmbiguousOutcomeError(
            f"{kind}: {detail}; the request was sent but its answer was lost, so it may or may "
            "not have been applied. It was not resent, to avoid applying it twice (a client "
            "may resend only where the server deduplicates: resend_ambiguous=True)",
            **where,
        )
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    return cls(f"{kind}: {detail}", **where)


def _validation_error(
    api: APISpec,
    config: ClientConfig,
    spec: EndpointSpec,
    response: httpx.Response,
    path: str,
    err: ValidationError,
) -> APIResponseValidationError:
    first = err.errors()[0]
    kwargs: dict[str, Any] = {
        "endpoint": spec.id,
        "method": spec.method,
        "path": path,
        "status_code": response.status_code,
        "request_id": request_id_of(api, response),
    }
    if first["type"] == "json_invalid" or not response.content:
        ctype = response.headers.get("content-type", "no content-type")
        body = excerpt(response.content, config) or "<empty body>"
        return APIResponseValidationError(f"expected a JSON body, got {ctype}: {body}", **kwargs)
    loc = ".".join(str(p) for p in first["loc"]) or "<root>"
    return APIResponseValidationError(
        f"response does not match its schema: field `{loc}`: {first['msg']}", **kwargs
    )


def decode_response(
    api: APISpec,
    config: ClientConfig,
    spec: EndpointSpec,
    response: httpx.Response,
    response_type: type[T],
    path: str,
) -> T:
    """Validate a successful response body into ``response_type`` (``None`` ignores the body)."""
    if response_type is type(None):
        return None
    try:
        if isinstance(response_type, type) and issubclass(response_type, BaseModel):
            return response_type.model_validate_json(response.content)
        return cast(T, type_adapter(cast(Hashable, response_type)).validate_json(response.content))
    except ValidationError as err:
        raise _validation_error(api, config, spec, response, path, err) from err


def validate_data(
    api: APISpec,
    config: ClientConfig,
    spec: EndpointSpec,
    response: httpx.Response,
    data: Any,
    result_type: type[T],
    path: str,
) -> T:
    """Validate already-parsed JSON (a polled future's result) into ``result_type``."""
    try:
        return cast(T, type_adapter(cast(Hashable, result_type)).validate_python(data))
    except ValidationError as err:
        raise _validation_error(api, config, spec, response, path, err) from err
