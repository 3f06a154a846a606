"""A field of a parsed reply by its wire name: a mapping's key, or the model attribute whose
alias it is (a property named ``@next`` on the wire is the attribute ``at_next``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

__all__ = ["wire_field"]


def wire_field(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping; for a model the field whose wire name is ``name`` (its
    alias, else its own name), then any attribute of that name; ``None`` when there is none."""
    if isinstance(obj, Mapping):
        return obj.get(name)
    if isinstance(obj, BaseModel):
        for attr, info in type(obj).model_fields.items():
            if (info.serialization_alias or info.alias or attr) == name:
                return getattr(obj, attr)
        extra = obj.model_extra or {}
        if name in extra:
            return extra[name]
    return getattr(obj, name, None)
