"""``build_request`` builds a bytes-body request in one pass (``_request._bytes_request``): it
must be exactly the request ``httpx.Request(..., content=...)`` builds (method, URL, headers in
order, body, stream), whatever the method, body, query and the caller's own headers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sdkgen.runtime._request import _bytes_request


def described(request: httpx.Request) -> tuple[Any, ...]:
    return (
        request.method,
        str(request.url),
        request.headers.raw,
        request.content,
        type(request.stream),
        b"".join(request.stream),  # type: ignore[arg-type]
        request.extensions,
    )


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "post"])
@pytest.mark.parametrize("content", [None, b"", b'{"a":1}'])
@pytest.mark.parametrize("params", [None, {"q": "x y", "n": 2}])
@pytest.mark.parametrize(
    "headers",
    [
        {"Accept": "application/json", "X-Key": "k"},
        {"Content-Type": "application/json", "accept": "a", "Accept": "b"},
        {"host": "elsewhere.test"},  # the caller's Host: httpx's way
        {"Content-Length": "7"},
        {"Transfer-Encoding": "chunked"},
    ],
)
def test_a_bytes_request_is_the_one_httpx_builds(
    method: str, content: bytes | None, params: dict[str, Any] | None, headers: dict[str, str]
) -> None:
    url = httpx.URL("http://127.0.0.1:8123/v1/items")
    extensions = {"timeout": {"connect": 1.0, "read": 2.0, "write": 2.0, "pool": 2.0}}
    expected = httpx.Request(
        method, url, params=params, headers=headers, content=content, extensions=extensions
    )
    got = _bytes_request(method, url, params, dict(headers), content, dict(extensions))
    assert described(got) == described(expected)


def test_a_header_value_httpx_refuses_is_refused_alike() -> None:
    url = httpx.URL("http://127.0.0.1:8123/v1/items")
    for build in (
        lambda: httpx.Request("POST", url, headers={"X-Name": "zoë"}, content=b"x"),
        lambda: _bytes_request("POST", url, None, {"X-Name": "zoë"}, b"x", {}),
    ):
        with pytest.raises(UnicodeEncodeError):
            build()
