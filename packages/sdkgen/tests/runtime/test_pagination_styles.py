"""Pagination styles (issue 11, point 3) against a real server on 127.0.0.1: offset/limit, page
number, a cursor in the body, the ``Link`` header; their termination rules and the loop guard."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from types import ModuleType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import sdkgen.codegen as codegen
from sdkgen.runtime import PaginationLoopError
from sdkgen.runtime._pagination import next_link

from ._support import HTTPServerThread

THINGS = list(range(7))  # 7 items in pages of 3: 3 + 3 + 1

MANIFEST = """\
manifest_version: 1
api:
  name: pager
  title: Pager
  client_class: PagerAPI
  version: "1"
  base_url: https://pager.example.test
  retry_policies:
    default: {max_retries: 0}
resources:
  things:
    endpoints:
      by_offset:
        method: GET
        path: /offset
        query:
          limit: {schema: {type: integer, default: 3}}
          offset: {schema: {type: integer, default: 0}}
        response: OffsetPage
        paginate: {style: offset, items: items, limit: limit, offset: offset, total: total}
      by_page:
        method: GET
        path: /pages
        query:
          per_page: {schema: {type: integer, default: 3}}
          page: {schema: {type: integer, default: 1}}
        response: NumberPage
        paginate: {style: page, items: data.items, limit: per_page, page: page}
      by_cursor:
        method: GET
        path: /cursor
        query:
          limit: {schema: {type: integer, default: 3}}
          after: {schema: {type: string}}
        response: CursorPage
        paginate: {style: cursor, items: data, cursor: after, next: meta.next, limit: limit}
      by_link:
        method: GET
        path: /link
        query:
          limit: {schema: {type: integer, default: 3}}
        response: LinkPage
        paginate: {style: link, items: items, limit: limit}
      cursor_loop:
        method: GET
        path: /cursor_loop
        query: {after: {schema: {type: string}}}
        response: CursorPage
        paginate: {style: cursor, items: data, cursor: after, next: meta.next}
      link_loop:
        method: GET
        path: /link_loop
        response: LinkPage
        paginate: {style: link, items: items}
schemas:
  Thing:
    type: object
    properties: {id: {type: integer}}
    required: [id]
  OffsetPage:
    type: object
    properties:
      items: {type: array, items: {$ref: '#/schemas/Thing'}}
      total: {type: integer}
    required: [items]
  Wrap:
    type: object
    properties:
      items: {type: array, items: {$ref: '#/schemas/Thing'}}
    required: [items]
  NumberPage:
    type: object
    properties: {data: {$ref: '#/schemas/Wrap'}}
    required: [data]
  Meta:
    type: object
    properties: {next: {type: string}}
  CursorPage:
    type: object
    properties:
      data: {type: array, items: {$ref: '#/schemas/Thing'}}
      meta: {$ref: '#/schemas/Meta'}
    required: [data, meta]
  LinkPage:
    type: object
    properties:
      items: {type: array, items: {$ref: '#/schemas/Thing'}}
    required: [items]
"""


def _things(start: int, count: int) -> list[dict[str, int]]:
    return [{"id": i} for i in THINGS[start : start + count]]


class _Pager(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.seen.append(self.path)
        limit = int(q.get("limit", q.get("per_page", "3")))
        headers: dict[str, str] = {}
        if url.path == "/offset":
            body: Any = {"items": _things(int(q["offset"]), limit), "total": len(THINGS)}
        elif url.path == "/pages":  # no total: only the empty page ends it
            body = {"data": {"items": _things((int(q["page"]) - 1) * limit, limit)}}
        elif url.path == "/cursor":
            start = int(q.get("after", "0"))
            end = start + limit
            body = {"data": _things(start, limit), "meta": {"next": str(end)}}
            if end >= len(THINGS):
                body["meta"] = {}  # no cursor: the last page
        elif url.path == "/link":
            page = int(q.get("page", "1"))
            body = {"items": _things((page - 1) * limit, limit)}
            if page * limit < len(THINGS):
                nxt = f"http://127.0.0.1:{self.server.server_address[1]}/link?page={page + 1}&limit={limit}"
                headers["Link"] = f'<{nxt}>; rel="next", <http://x/last>; rel="last"'
        elif url.path == "/cursor_loop":
            body = {"data": _things(0, 1), "meta": {"next": "same"}}
        else:  # /link_loop: always the same next link
            body = {"items": _things(0, 1)}
            headers["Link"] = '</link_loop?x=1>; rel="next"'
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("pager")
    manifest = root / "pager.yaml"
    manifest.write_text(MANIFEST)
    codegen.generate(manifest, root / "pager_sdk", runtime="sdkgen.runtime")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    try:
        yield importlib.import_module("pager_sdk.client")
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n.startswith("pager_sdk")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = HTTPServerThread(_Pager, lifetime=120, max_connections=200)
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def api(sdk: ModuleType, base_url: str) -> Iterator[Any]:
    _Pager.seen.clear()
    with sdk.PagerAPI(base_url=base_url, timeout=20) as client:
        yield client


def _ids(items: Any) -> list[int]:
    return [item.id for item in items]


def test_offset_style_advances_by_the_items_and_stops_at_the_total(api: Any) -> None:
    assert _ids(api.things.iter_by_offset()) == THINGS
    assert _Pager.seen == [
        "/offset?limit=3&offset=0",
        "/offset?limit=3&offset=3",
        "/offset?limit=3&offset=6",
    ]
    _Pager.seen.clear()  # started past the first page: the offset, not the count, meets total
    assert _ids(api.things.iter_by_offset(offset=5)) == THINGS[5:]
    assert _Pager.seen == ["/offset?limit=3&offset=5"]


def test_page_style_counts_pages_until_an_empty_one(api: Any) -> None:
    pages = list(api.things.iter_by_page_pages(per_page=3))
    assert [len(p.data.items) for p in pages] == [3, 3, 1, 0]
    assert [u.split("?")[1] for u in _Pager.seen] == [f"per_page=3&page={n}" for n in (1, 2, 3, 4)]
    assert _ids(api.things.iter_by_page(page=2)) == THINGS[3:]


def test_cursor_style_follows_the_dotted_cursor_until_it_is_missing(api: Any) -> None:
    assert _ids(api.things.iter_by_cursor(limit=2)) == THINGS
    assert _Pager.seen[0] == "/cursor?limit=2"
    assert _Pager.seen[1:] == [f"/cursor?limit=2&after={n}" for n in (2, 4, 6)]


def test_link_style_follows_rel_next_until_there_is_none(api: Any) -> None:
    pages = list(api.things.iter_by_link_pages())
    assert [_ids(p.items) for p in pages] == [[0, 1, 2], [3, 4, 5], [6]]
    assert _Pager.seen == ["/link?limit=3", "/link?page=2&limit=3", "/link?page=3&limit=3"]


def test_a_cursor_or_link_sent_twice_raises_instead_of_looping(api: Any) -> None:
    with pytest.raises(PaginationLoopError, match="next cursor 'same' a second time"):
        list(api.things.iter_cursor_loop())
    assert len(_Pager.seen) == 2
    with pytest.raises(PaginationLoopError, match="next link"):
        list(api.things.iter_link_loop_pages())
    assert len(_Pager.seen) == 4


def test_the_asyncio_client_walks_every_style(sdk: ModuleType, base_url: str) -> None:
    async def main() -> list[list[int]]:
        async with sdk.AsyncPagerAPI(base_url=base_url, timeout=20) as client:
            things = client.things
            out = [[t.id async for t in things.iter_by_offset()]]
            out.append([t.id async for t in things.iter_by_page()])
            out.append([t.id async for t in things.iter_by_cursor()])
            out.append([len(p.items) async for p in things.iter_by_link_pages()])
            with pytest.raises(PaginationLoopError):
                [t async for t in things.iter_cursor_loop()]
            return out

    assert asyncio.run(main()) == [THINGS, THINGS, THINGS, [3, 3, 1]]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://a/x?p=2>; rel="next"', "https://a/x?p=2"),
        ('<https://a/p1>; rel="prev", <https://a/p3>; rel=next', "https://a/p3"),
        ('<https://a/x>; rel="next last"', "https://a/x"),
        ('<https://a/x>; rel="last"', None),
        ("", None),
    ],
)
def test_the_next_link_is_read_from_any_entry_of_the_header(
    header: str, expected: str | None
) -> None:
    assert next_link({"link": header}) == expected
