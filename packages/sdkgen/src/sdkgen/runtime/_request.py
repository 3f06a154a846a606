"""Turning one call (endpoint spec + arguments + options) into an ``httpx.Request``.

Pure functions: no I/O, nothing retried here. The retry loop calls :func:`build_request` once per
attempt with the attempt number, so the retry-count header is exact and the idempotency key,
chosen once per call, is the same on every attempt.
"""

from __future__ import annotations

import functools
import json
import platform
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from ._auth import apply_auth, auth_header_names
from ._call_context import current_call_headers
from ._compression import compress
from ._config import ClientConfig
from ._hooks import RequestHook, ResponseHook
from ._options import NotGiven
from ._redirect import SECRETS_EXTENSION, origin_of
from ._spec import APISpec, EndpointSpec

if TYPE_CHECKING:
    from typing_extensions import TypeIs

    from ._multipart import MultipartBody

__all__ = [
    "SAFE_METHODS",
    "CallArgs",
    "build_request",
    "encode_json_body",
    "new_idempotency_key",
    "param_headers",
    "sends_idempotency_key",
]

# RFC 6265 cookie-octet: printable ASCII but space, `"`, `,`, `;` and `\\`.
_COOKIE_VALUE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")


# Methods that change nothing on the server: no idempotency key is sent with them (and the
# generator gives their methods no `idempotency_key` argument; codegen keeps the same set).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def new_idempotency_key() -> str:
    """A fresh idempotency key (a random UUID), for a request the caller builds and may resend.

    Example::

        key = new_idempotency_key()
    """
    import uuid

    return str(uuid.uuid4())


def sends_idempotency_key(api: APISpec, spec: EndpointSpec) -> bool:
    """Whether calls of ``spec`` carry an idempotency key: the API names a header for it and
    the method may change state (not one of ``SAFE_METHODS``)."""
    return bool(api.idempotency_header) and spec.method not in SAFE_METHODS


class CallArgs:
    """The arguments of one call, fixed for all of its attempts."""

    __slots__ = (
        "compress",
        "content",
        "extra_headers",
        "idempotency_key",
        "path_params",
        "query",
        "request_hooks",
        "response_hooks",
        "secret_headers",
    )

    def __init__(
        self,
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        content: bytes | MultipartBody | None = None,
        secret_headers: Mapping[str, str | None] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        compress: bool = True,
        request_hooks: Sequence[RequestHook] = (),
        response_hooks: Sequence[ResponseHook] = (),
    ) -> None:
        self.compress = compress
        self.request_hooks = request_hooks  # this call's, run after the client's
        self.response_hooks = response_hooks
        self.path_params = path_params or {}
        self.query = query or {}
        self.content = content
        self.secret_headers = {k: v for k, v in (secret_headers or {}).items() if v is not None}
        self.extra_headers = extra_headers or {}
        self.idempotency_key = idempotency_key


def _drop_unset_nones(model: BaseModel, dumped: dict[str, Any]) -> dict[str, Any]:
    # ``None`` that the caller set explicitly is sent as null (it can mean "remove"); a ``None``
    # that is only a default is left out, as servers expect.
    for name, info in type(model).model_fields.items():
        key = info.serialization_alias or info.alias or name
        if name in model.model_fields_set and getattr(model, name) is None:
            dumped[key] = None
    return dumped


def _explicit_none(model: BaseModel) -> bool:
    return any(getattr(model, name, 0) is None for name in model.model_fields_set)


def encode_json_body(body: BaseModel | Mapping[str, Any] | None) -> bytes | None:
    """Serialize a request body: pydantic models in JSON mode, unset ``None`` fields omitted."""
    if body is None:
        return None
    if isinstance(body, BaseModel):
        if not _explicit_none(body):
            # pydantic's own serializer writes the bytes directly: several times faster than
            # dumping to Python objects and then running json.dumps (a training batch is MBs).
            # It writes NaN and infinities as null, though, where json.dumps keeps them: any
            # null in its output sends the body the other way.
            encoded = body.model_dump_json(by_alias=True, exclude_none=True).encode()
            if b"null" not in encoded:
                return encoded
        dumped = body.model_dump(mode="json", by_alias=True, exclude_none=True)
        data: Any = _drop_unset_nones(body, dumped)
    else:
        data = dict(body)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def render_path(spec: EndpointSpec, params: Mapping[str, Any]) -> str:
    """The endpoint path with its parameters quoted in. Empty values are refused early."""
    path = spec.path
    for name in spec.path_params:
        value = params.get(name)
        if value is None or isinstance(value, NotGiven) or str(value) == "":
            raise ValueError(
                f"{spec.id}: expected a non-empty value for path parameter `{name}`, got {value!r}"
            )
        safe = "/" if name in spec.slash_params else ""
        path = path.replace("{" + name + "}", _quote_segments(str(value), safe))
    return path


def _quote_segments(value: str, safe: str) -> str:
    # A segment that is only "." or ".." would be removed by URL normalisation (httpx does it)
    # and silently change the route (``/items/..`` is ``/``); percent-encode its dots instead.
    return "/".join(
        part.replace(".", "%2E") if part in (".", "..") else part
        for part in quote(value, safe=safe).split("/")
    )


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _text(value: Any) -> str:
    value = _query_value(value)
    return str(getattr(value, "value", value))  # an enum member: its wire value


def param_headers(
    headers: Mapping[str, Any],
    cookies: Mapping[str, Any],
    extra_headers: Mapping[str, str] | None,
) -> dict[str, str]:
    """A call's header and cookie parameters as headers, under the caller's ``extra_headers``
    (which win). ``None`` and ``NOT_GIVEN`` values are not sent; a value that cannot travel in
    a header (a line break, say) or a cookie (``;``, ``,``, space, quote) raises ``ValueError``
    naming the parameter, before anything is sent.

    Example::

        param_headers({"if-version": 3}, {"session": "abc"}, None)
        # {"if-version": "3", "Cookie": "session=abc"}
    """
    out: dict[str, str] = {}
    for name, value in headers.items():
        if value is None or isinstance(value, NotGiven):
            continue
        text = _text(value)
        if not _HEADER_VALUE.match(text):
            raise ValueError(
                f"header parameter `{name}`: {text!r} cannot be sent in a header "
                "(printable ASCII only, no line breaks)"
            )
        out[name] = text
    pairs = []
    for name, value in cookies.items():
        if value is None or isinstance(value, NotGiven):
            continue
        text = _text(value)
        if not _COOKIE_VALUE.match(text):
            raise ValueError(
                f"cookie parameter `{name}`: {text!r} cannot be sent in a cookie (no spaces, "
                "quotes, commas, semicolons, backslashes or non-ASCII: encode it first)"
            )
        pairs.append(f"{name}={text}")
    if pairs:
        out["Cookie"] = "; ".join(pairs)
    out.update(extra_headers or {})
    return out


@functools.lru_cache(maxsize=1024)
def _url(raw: str) -> httpx.URL:
    # Parsing a URL is a good part of building a request; httpx.URL is immutable, so the
    # parsed form of each endpoint URL is kept and reused.
    return httpx.URL(raw)


@functools.lru_cache(maxsize=64)
def _origin(base_url: str) -> tuple[str, str, int | None]:
    # The path never changes the origin: one parse per base URL.
    return origin_of(_url(base_url))


@functools.cache
def _user_agent(product: str) -> str:
    return f"{product} python/{platform.python_version()}"


def _is_multipart(content: object) -> TypeIs[MultipartBody]:
    # Multipart bodies are built by their module, loaded by the first multipart call: while it
    # is not loaded, no body is one (and a call without one does not import it).
    module = sys.modules.get(f"{__package__}._multipart")
    return module is not None and isinstance(content, module.MultipartBody)


def build_request(
    api: APISpec,
    config: ClientConfig,
    spec: EndpointSpec,
    args: CallArgs,
    *,
    retries_taken: int,
    timeout: httpx.Timeout,
) -> httpx.Request:
    """Build attempt ``retries_taken + 1`` of a call."""
    headers: dict[str, str] = {"User-Agent": _user_agent(api.user_agent)}
    headers.update(config.default_headers)
    headers["Accept"] = spec.accept or "application/json"
    params: dict[str, Any] = {}
    apply_auth(api, config.api_key, config.credentials, headers, params)
    headers.update(spec.headers)
    content = args.content
    stream: MultipartBody | None = None
    if _is_multipart(content):
        # Streamed, and sent whole by every attempt (it starts over on each iteration); its
        # length is known, so servers that refuse chunked uploads take it too.
        headers["Content-Type"] = content.content_type
        headers["Content-Length"] = str(content.length)
        stream, content = content, None
    elif content is not None:
        headers["Content-Type"] = spec.content_type
        if spec.compress is not None and args.compress:
            content = compress(content, spec.compress)
            headers["Content-Encoding"] = spec.compress
    if api.idempotency_header and args.idempotency_key and sends_idempotency_key(api, spec):
        headers[api.idempotency_header] = args.idempotency_key
    if api.retry_count_header:
        headers[api.retry_count_header] = str(retries_taken)
    call_headers = current_call_headers()  # which public call this request is made for
    if call_headers:
        headers.update(call_headers)
    headers.update(args.secret_headers)
    headers.update(args.extra_headers)
    url = _url(config.base_url + render_path(spec, args.path_params))
    if stream is not None:
        # httpx adds Host itself only to a request built from `content`, not from a stream.
        headers["Host"] = url.netloc.decode("ascii")
    extensions = {
        "timeout": timeout.as_dict(),
        SECRETS_EXTENSION: (_origin(config.base_url), _secret_names(api, spec)),
    }
    params.update(
        (k, _query_value(v))
        for k, v in args.query.items()
        if v is not None and not isinstance(v, NotGiven)
    )
    if stream is None:
        return _bytes_request(spec.method, url, params or None, headers, content, extensions)
    return httpx.Request(
        spec.method,
        url,
        params=params or None,  # an empty mapping would cost a second URL parse
        headers=headers,
        stream=stream,
        extensions=extensions,
    )


# Headers httpx adds to a request built from ``content`` unless the caller set them.
_AUTO_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})


def _bytes_request(
    method: str,
    url: httpx.URL,
    params: dict[str, Any] | None,
    headers: dict[str, str],
    content: bytes | None,
    extensions: dict[str, Any],
) -> httpx.Request:
    """``httpx.Request(method, url, content=content, ...)``, the same request (header order
    included: Host first, then an empty body's ``Content-Length: 0``, the caller's headers, a
    body's ``Content-Length``), built in one pass over the headers where httpx makes two: this
    was a third of the runtime's own time per request. A request that sets one of those
    headers itself is left to httpx."""
    body = content or b""
    if (
        type(body) is not bytes
        or not url.host
        or any(name.lower() in _AUTO_HEADERS for name in headers)
    ):
        return httpx.Request(
            method, url, params=params, headers=headers, content=body, extensions=extensions
        )
    method = method.upper()
    full = {"Host": url.netloc.decode("ascii")}
    if not body and method in ("POST", "PUT", "PATCH"):
        full["Content-Length"] = "0"
    full.update(headers)
    if body:
        full["Content-Length"] = str(len(body))
    request = httpx.Request(
        method,
        url,
        params=params,
        headers=full,
        stream=httpx.ByteStream(body),
        extensions=extensions,
    )
    request.read()  # as httpx does for in-memory content: ``request.content`` is readable
    return request


def _secret_names(api: APISpec, spec: EndpointSpec) -> tuple[str, ...]:
    # What a redirect to another origin must not carry (a pool that follows redirects drops
    # them there: see _redirect); names the request lacks are skipped there, not looked up here.
    return (*auth_header_names(api), "Authorization", "Cookie", *spec.secret_headers)
