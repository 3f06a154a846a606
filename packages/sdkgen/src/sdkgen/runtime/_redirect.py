"""Redirects to another origin (a signed storage URL, say) carry no credentials.

httpx drops only ``Authorization`` when it follows a redirect to another host; an API key in a
header of the API's own (``X-API-Key``), secret headers and cookies would go along. Each
request notes, in an extension that httpx copies onto every redirect it builds, its origin and
which of its headers are secret; a request hook of a pool that follows redirects removes those
headers from any request bound elsewhere.
"""

from __future__ import annotations

import httpx

__all__ = ["SECRETS_EXTENSION", "astrip_cross_origin", "origin_of", "strip_cross_origin"]

SECRETS_EXTENSION = "sdk_redirect_secrets"  # (origin, secret header names)
_PORTS = {"http": 80, "https": 443}


def origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port (the default one spelled out) of ``url``."""
    return url.scheme, url.host, url.port or _PORTS.get(url.scheme)


def strip_cross_origin(request: httpx.Request) -> None:
    """Remove the secret headers of ``request`` when it goes to another origin than the one
    it was built for (an httpx ``request`` event hook; runs for every redirect).

    Example::

        httpx.Client(follow_redirects=True, event_hooks={"request": [strip_cross_origin]})
    """
    held = request.extensions.get(SECRETS_EXTENSION)
    if not held:
        return
    origin, names = held
    if origin_of(request.url) != origin:
        for name in names:
            request.headers.pop(name, None)


async def astrip_cross_origin(request: httpx.Request) -> None:
    """:func:`strip_cross_origin` for an ``httpx.AsyncClient`` (its hooks are awaited)."""
    strip_cross_origin(request)
