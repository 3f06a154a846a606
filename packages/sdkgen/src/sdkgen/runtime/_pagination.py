"""Walking a paginated listing: which query asks for the next page, and when to stop.

One state machine serves both clients (they only send the requests), so the sync and async
iterators cannot disagree on a termination rule. Styles (``PaginateSpec.style``):

- ``offset``: the ``offset`` parameter advances by the items received; stops on an empty page
  or once ``total`` (a dotted path in the body) is reached.
- ``page``: the ``page`` parameter counts up from the caller's value (default 1); stops on an
  empty page.
- ``cursor``: the ``cursor`` parameter takes the value at ``next`` (a dotted path in the body);
  stops when that value is missing, ``None`` or ``""``.
- ``link``: the next page is the ``Link: <url>; rel="next"`` header's URL, whose query string
  replaces the call's query; stops when there is no such link.

A cursor or link seen twice raises :class:`PaginationLoopError`: such a server would otherwise
be asked for the same page forever.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ._errors import APIError
from ._options import NotGiven
from ._spec import EndpointSpec, PaginateSpec
from ._wire import wire_field

__all__ = ["PageWalk", "PaginationLoopError", "dotted", "next_link"]

# One link-value of a Link header (RFC 8288): <uri> followed by ;-separated parameters.
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


class PaginationLoopError(APIError):
    """The server sent the same next cursor or next link twice; iteration stops here."""


def dotted(obj: Any, path: str) -> Any:
    """The value at a dotted path of wire names in a model or dict (``None`` where a step is
    missing).

    Example: ``dotted(page, "cursor.next")``
    """
    for part in path.split("."):
        if obj is None:
            return None
        obj = wire_field(obj, part)
    return obj


def next_link(headers: Mapping[str, str]) -> str | None:
    """The URL of the ``rel="next"`` entry of a ``Link`` header, or ``None``.

    Example: ``next_link({"link": '<https://a/x?page=2>; rel="next"'})`` is ``https://a/x?page=2``
    """
    value = headers.get("link")
    for match in _LINK.finditer(value or ""):
        for rel in _REL.finditer(match.group(2)):
            # rel may hold several space-separated relation types ("next last").
            if "next" in (rel.group(1) or rel.group(2) or "").lower().split():
                return match.group(1).strip()
    return None


class PageWalk:
    """The pagination state of one iteration: ``query()`` for the next request (``None``: done),
    ``advance(page, headers)`` once its answer is decoded, ``items(page)`` for its items."""

    def __init__(self, spec: EndpointSpec, query: Mapping[str, Any] | None) -> None:
        if spec.paginate is None:
            raise ValueError(f"{spec.id} is not paginated")
        self._endpoint = spec.id
        self._spec: PaginateSpec = spec.paginate
        self._query: dict[str, Any] | None = dict(query or {})
        self._seen: set[str] = set()
        p = self._spec
        if p.style == "offset" and p.offset is not None:
            self._query[p.offset] = int(_given(self._query.get(p.offset), 0))
        elif p.style == "page" and p.page is not None:
            self._query[p.page] = int(_given(self._query.get(p.page), 1))

    def query(self) -> dict[str, Any] | None:
        """The query of the next request, or ``None`` when the listing is exhausted."""
        return None if self._query is None else dict(self._query)

    def items(self, page: Any) -> list[Any]:
        """The items of a decoded page (an empty list where the path holds nothing)."""
        return list(dotted(page, self._spec.items) or ())

    def advance(self, page: Any, headers: Mapping[str, str]) -> None:
        """Decide the next query from the page just received (or that there is none)."""
        assert self._query is not None, "advance() after the last page"
        p, query = self._spec, self._query
        count = len(self.items(page))
        if p.style == "offset" and p.offset is not None:
            query[p.offset] = query[p.offset] + count
            total = dotted(page, p.total) if p.total else None
            # The offset is a position in the whole listing, so it is what `total` bounds.
            if count == 0 or (total is not None and query[p.offset] >= total):
                self._query = None
        elif p.style == "page" and p.page is not None:
            if count == 0:
                self._query = None
            else:
                query[p.page] = query[p.page] + 1
        elif p.style == "cursor" and p.cursor is not None and p.next is not None:
            cursor = dotted(page, p.next)
            if cursor is None or cursor == "":
                self._query = None
            else:
                self._once(str(cursor), "cursor")
                query[p.cursor] = cursor
        elif p.style == "link":
            link = next_link(headers)
            if link is None:
                self._query = None
            else:
                self._once(link, "link")
                # The link's own query replaces the call's: it is the server's full request.
                self._query = dict(parse_qsl(urlsplit(link).query, keep_blank_values=True))

    def _once(self, token: str, what: str) -> None:
        if token in self._seen:
            raise PaginationLoopError(
                f"the server sent the next {what} {token!r} a second time; "
                "stopped paginating rather than loop",
                endpoint=self._endpoint,
            )
        self._seen.add(token)


def _given(value: Any, default: Any) -> Any:
    return default if value is None or isinstance(value, NotGiven) else value
