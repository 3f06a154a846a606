"""Reply fields by wire name (``paginate`` paths, the futures' ``request_id_field``): a
mapping's key, or the model field whose alias it is (``@next`` is ``next_cursor``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sdkgen.runtime._pagination import dotted
from sdkgen.runtime._wire import wire_field


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True)
    next_cursor: Annotated[str | None, Field(alias="@next")] = None
    total: int = 0


class Page(BaseModel):
    items: Annotated[list[int], Field(alias="@items")]
    meta: Meta | None = None


def test_a_model_field_is_found_by_its_alias_then_by_its_name() -> None:
    page = Page.model_validate({"@items": [1, 2], "meta": {"@next": "c2", "total": 2, "x-y": 1}})
    assert wire_field(page, "@items") == [1, 2]
    assert dotted(page, "meta.@next") == "c2"
    assert dotted(page, "meta.total") == 2
    assert dotted(page, "meta.x-y") == 1  # an extra field, under its own key
    assert dotted(page, "meta.next_cursor") == "c2"  # the attribute still answers
    assert dotted(page, "meta.nope") is None
    assert dotted(Page.model_validate({"@items": []}), "meta.@next") is None


def test_a_mapping_is_read_by_key() -> None:
    assert dotted({"meta": {"@next": "c3"}}, "meta.@next") == "c3"
    assert wire_field({"a": 1}, "b") is None
