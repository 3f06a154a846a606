"""The wire convention of the Tinker API: an unset optional field is omitted, never null.

The generated layer sends an explicit ``None`` as ``null`` (it can mean "remove"); in the
hand-written clients ``None`` means "not set", so these helpers turn it into an omission.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from .runtime import NOT_GIVEN, NotGiven

__all__ = ["compact", "omit"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def omit(value: T | None) -> T | NotGiven:
    """``NOT_GIVEN`` for ``None``: the argument is left out of the request."""
    return NOT_GIVEN if value is None else value


def compact(model: type[M], **fields: Any) -> M:
    """``model(**fields)`` without the ``None`` fields, so they are left out of the request."""
    return model(**{k: v for k, v in fields.items() if v is not None})
