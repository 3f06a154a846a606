"""Turning an ``httpx.Response`` into a typed result, or into the right exception."""

from __future__ import annotations

import functools
import json
import logging
import re
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
    ResponseLostError,
    ResponseTooLargeError,
    status_error_class,
)
from ._poll_contract import MISSING, lookup
from ._redact import redact_value
from ._spec import APISpec, EndpointSpec, ErrorShape

__all__ = [
    "cut_off_error",
    "decode_response",
    "excerpt",
    "recover_submission",
    "request_id_of",
    "status_error",
    "too_large_error",
    "transport_error",
]

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


def _error_shape(api: APISpec, spec: EndpointSpec, status: int) -> ErrorShape | None:
    for schemas in (spec.errors, api.errors):  # the endpoint's own first
        shape = schemas.find(status) if schemas is not None else None
        if shape is not None:
            return shape
    return None


def _declared(api: APISpec, spec: EndpointSpec, status: int, body: Any) -> tuple[Any, str | None]:
    """The body validated against its declared error schema, and the text at the declared
    message field (None, None when nothing is declared or the body does not match: the
    caller then falls back to what it does without a declaration)."""
    shape = _error_shape(api, spec, status)
    if shape is None or body is None:
        return None, None
    try:
        parsed = type_adapter(cast(Hashable, shape.type)).validate_python(body)
    except ValidationError as err:
        logging.getLogger(api.logger).debug(
            "%s: the %s body does not match its error schema: %s", spec.id, status, err
        )
        return None, None
    if shape.message_field is None:
        return parsed, None
    value = lookup(body, tuple(shape.message_field.split(".")))
    if value is MISSING or value is None or value == "":
        return parsed, None
    if isinstance(value, str):
        return parsed, value
    return parsed, json.dumps(value, default=str)[:_EXCERPT]


def status_error(
    api: APISpec, config: ClientConfig, spec: EndpointSpec, response: httpx.Response, path: str
) -> APIStatusError:
    """The typed exception for an error status; the body must already be read.

    When the manifest declares an error schema for the status (the endpoint's, else the
    API's), the body is validated against it into the error's ``parsed`` and its declared
    message field is the message; a body that does not match is reported as without one.
    """
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    # Validated after redaction: a key the server echoes is not kept in `parsed` either.
    parsed, server_message = _declared(api, spec, response.status_code, redact_value(body))
    if server_message is None:
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
        parsed=parsed,
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
    if isinstance(exc, httpx.LocalProtocolError):
        # The request itself cannot be sent (an illegal header value, say): nothing reached
        # the server, and sending it again cannot help, so it is not retried.
        refused = APIConnectionError(f"the request could not be sent: {kind}: {detail}", **where)
        refused.retryable = False
        return refused
    cls = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    return cls(f"{kind}: {detail}", **where)


def too_large_error(
    api: APISpec,
    spec: EndpointSpec,
    response: httpx.Response,
    path: str,
    limit: int,
    *,
    per_event: bool = False,
) -> ResponseTooLargeError:
    """The error for an answer (or one event of a stream) over the endpoint's size limit."""
    what = "one event of the stream" if per_event else "the answer"
    return ResponseTooLargeError(
        f"{what} is larger than {limit} bytes ({limit / 2**20:.4g} MiB) decoded, this "
        "endpoint's limit; reading stopped there. If the server is right to send that much, "
        f"raise `max_response_bytes` for `{spec.id}` in the API's manifest (on the endpoint, "
        "or `api.max_response_bytes` for all) and regenerate",
        limit=limit,
        endpoint=spec.id,
        method=spec.method,
        path=path,
        status_code=response.status_code,
        request_id=request_id_of(api, response),
    )


def cut_off_error(
    api: APISpec,
    spec: EndpointSpec,
    response: httpx.Response,
    path: str,
    exc: Exception,
    *,
    head: bytes = b"",
    resend_ambiguous: bool = False,
) -> APIError:
    """The error for an answer whose status line arrived but whose body did not, in full.

    The status settles what happened (status first): an error status is that status's typed
    error (so fallbacks keyed on it run); a success status to a state-changing request means
    the server applied it, so it is :class:`ResponseLostError` (not resent), carrying the
    future's id when ``head`` (the start of the body) holds it. An idempotent call, or one the
    caller allows to be resent, gets a retryable connection error instead.
    """
    status = response.status_code
    reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    where: dict[str, Any] = {
        "endpoint": spec.id,
        "method": spec.method,
        "path": path,
        "status_code": status,
        "request_id": request_id_of(api, response),
    }
    if status >= 400:
        if isinstance(exc, ResponseTooLargeError):
            detail = f"its body is over {exc.limit} bytes and was not read"
        else:
            detail = f"its body was cut off ({reason})"
        cls = status_error_class(status)
        where.pop("status_code")
        return cls(
            f"HTTP {status} {response.reason_phrase}; {detail}",
            response=response,
            request=response.request,
            **where,
        )
    if isinstance(exc, httpx.DecodingError):
        return APIResponseValidationError(
            f"the response body could not be decoded: {reason}", **where
        )
    if spec.idempotent or resend_ambiguous or not 200 <= status < 300:
        # Safe to resend, or not a success: as if no answer had arrived.
        err = transport_error(spec, path, exc, resend_ambiguous=resend_ambiguous)
        err.status_code, err.request_id = status, where["request_id"]
        return err
    future_id = _future_id(api, spec, head)
    then = (
        f"the future's id ({future_id}) arrived, so its result can be polled for"
        if future_id is not None
        else "what it answered is lost"
    )
    return ResponseLostError(
        f"the server answered {status}, so it applied the request, but the body of its answer "
        f"was cut off ({reason}); {then}. It was not resent: that would apply it again",
        future_id=future_id,
        **where,
    )


def _future_id(api: APISpec, spec: EndpointSpec, head: bytes) -> str | None:
    """The future's id in the start of a cut-off submission reply, if it arrived whole."""
    if not spec.future or api.futures is None or not head:
        return None
    field = re.escape(json.dumps(api.futures.request_id_field).encode())
    found = re.search(field + rb'\s*:\s*("(?:[^"\\]|\\.)*")', head)
    if found is None:
        return None
    try:
        value = json.loads(found.group(1))
    except ValueError:
        return None
    return value if isinstance(value, str) and value else None


def recover_submission(
    api: APISpec, spec: EndpointSpec, response_type: type[T], err: ResponseLostError
) -> T:
    """The submission reply of a future whose answer was cut off after its id arrived (only
    the id is known); re-raises ``err`` when the id did not arrive or is not enough."""
    if err.future_id is None or api.futures is None:
        raise err
    try:
        submission = validate_json_data(
            response_type, {api.futures.request_id_field: err.future_id}
        )
    except ValidationError:
        raise err from None
    logging.getLogger(api.logger).warning(
        "%s: the answer was cut off after status %s; polling request %s for its result",
        spec.id,
        err.status_code,
        err.future_id,
    )
    return submission


def validate_json_data(tp: type[T], data: Any) -> T:
    """Validate already-parsed JSON into ``tp``."""
    return cast(T, type_adapter(cast(Hashable, tp)).validate_python(data))


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
