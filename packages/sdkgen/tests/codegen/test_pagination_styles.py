"""The `paginate:` styles (issue 11, point 3): which keys each style takes, the file:line
refusals, and what is generated (items and pages iterators, the spec) while a listing written
before styles existed generates exactly what it did."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sdkgen.codegen import generate

from .conftest import BASE
from .test_validation import line_of, problems_of

Write = Callable[[str], Path]

LISTING = """\
      list_items:
        method: GET
        path: /items
        query:
          limit: {schema: {type: integer, default: 10}}
          offset: {schema: {type: integer, default: 0}}
          page: {schema: {type: integer, default: 1}}
          after: {schema: {type: string}}
          label: {schema: {type: string}}
        response: ItemPage
        paginate: PAGINATE
"""
PAGE_SCHEMA = """\
  Meta:
    type: object
    properties: {next: {type: string}, total: {type: integer}}
  ItemPage:
    type: object
    properties:
      result: {type: object, properties: {items: {type: array, items: {$ref: '#/schemas/Item'}}}}
      meta: {$ref: '#/schemas/Meta'}
      count: {type: integer}
"""


def manifest(paginate: str) -> str:
    text = BASE.replace("schemas:\n", "schemas:\n" + PAGE_SCHEMA, 1)
    marker = "        response: Item\n      create_item:"
    listing = LISTING.replace("PAGINATE", paginate)
    return text.replace(marker, "        response: Item\n" + listing + "      create_item:", 1)


@pytest.mark.parametrize(
    "paginate",
    [
        "{style: offset, items: result.items, limit: limit, offset: offset, total: meta.total}",
        "{style: page, items: result.items, page: page, limit: limit}",
        "{style: cursor, items: result.items, cursor: after, next: meta.next, limit: limit}",
        "{style: link, items: result.items}",
    ],
)
def test_every_style_is_accepted_and_gets_items_and_pages_iterators(
    write_manifest: Write, tmp_path: Path, paginate: str
) -> None:
    out = tmp_path / "mini_sdk"
    generate(write_manifest(manifest(paginate)), out)
    items = (out / "items.py").read_text()
    # sync and async, items and pages; the item type is the array's, followed through `$ref`s
    assert items.count("    def iter_list_items(") == 2
    assert items.count("    def iter_list_items_pages(") == 2
    assert ") -> Iterator[models.Item]:" in items
    assert ") -> AsyncIterator[models.ItemPage]:" in items
    assert "self._client.paginate_pages(" in items
    assert "limit: int = 10," in items  # the page size parameter keeps its type
    style = paginate.split(",")[0].split()[-1]
    endpoints = (out / "endpoints.py").read_text()
    assert f"style='{style}'" in endpoints.replace('"', "'")


def test_a_listing_without_style_generates_what_it_always_did(
    write_manifest: Write, tmp_path: Path
) -> None:
    out = tmp_path / "mini_sdk"
    text = manifest("{items: count, limit: limit, offset: offset, total: meta.total}")
    generate(write_manifest(text), out)
    items = (out / "items.py").read_text()
    assert "iter_list_items_pages" not in items
    assert "(``limit`` items each)" in items
    endpoints = (out / "endpoints.py").read_text().replace('"', "'")
    assert (
        "PaginateSpec(items='count', limit='limit', offset='offset', total='meta.total')"
        in endpoints
    )


@pytest.mark.parametrize(
    ("paginate", "needle", "message"),
    [
        ("{style: cursor, items: result.items, cursor: after}", "paginate:", "needs `next`"),
        ("{style: page, items: result.items}", "paginate:", "style `page` needs `page`"),
        (
            "{style: link, items: result.items, offset: offset}",
            "paginate:",
            "`offset` is not a key of style `link`; remove it",
        ),
        (
            "{style: page, items: result.items, page: nope}",
            "paginate:",
            "`nope` is not a query parameter",
        ),
        (
            "{style: page, items: result.items, page: after}",
            "paginate:",
            "`after` counts pages or items: give it `type: integer`",
        ),
        (
            "{style: cursor, items: result.nope, cursor: after, next: meta.next}",
            "paginate:",
            "`result.nope` is not a field of `ItemPage`",
        ),
        (
            "{style: cursor, items: count, cursor: after, next: meta.next}",
            "paginate:",
            "`count` of `ItemPage` is not an array",
        ),
        (
            "{style: cursor, items: result.items, cursor: after, next: meta.later}",
            "paginate:",
            "`meta.later` is not a field of `ItemPage`",
        ),
        (
            "{style: page, items: result.items, page: page, total: meta.total}",
            "paginate:",
            "`total` is not a key of style `page`; remove it",
        ),
        ("{style: pages, items: result.items}", "paginate:", "style"),
    ],
)
def test_bad_pagination_keys_are_refused_with_file_and_line(
    write_manifest: Write, paginate: str, needle: str, message: str
) -> None:
    text = manifest(paginate)
    found = problems_of(write_manifest(text))
    assert len(found) == 1, found
    assert f"manifest.yaml:{line_of(text, needle)}" in found[0], found
    assert message in found[0], found
