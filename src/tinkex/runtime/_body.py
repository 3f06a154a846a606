"""Building a request model from a generated method's keyword arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from ._options import NotGiven

__all__ = ["build_body", "validate_params"]

M = TypeVar("M", bound=BaseModel)


def build_body(model: type[M], values: Mapping[str, Any]) -> M:
    """Validate arguments into ``model`` before any request is sent; ``NOT_GIVEN`` ones are left out.

    A bad argument raises ``pydantic.ValidationError`` naming the field.
    """
    return model.model_validate({k: v for k, v in values.items() if not isinstance(v, NotGiven)})


def validate_params(model: type[BaseModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check path and query arguments against their schemas; the validated values, by wire name.

    A bad argument raises ``pydantic.ValidationError`` naming it, before any request is sent.
    """
    return dict(model.model_validate(dict(values)))
