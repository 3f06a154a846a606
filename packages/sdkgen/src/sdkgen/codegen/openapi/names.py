"""Names for what an OpenAPI document calls by free-form strings: snake_case identifiers for
endpoints, resources and arguments, CamelCase for schemas, each unique where it must be."""

from __future__ import annotations

import keyword
import re

__all__ = ["camel", "snake", "unique"]

_WORD_BREAK = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")


def snake(text: str, *, fallback: str = "value") -> str:
    """``createUser`` / ``Get-Item`` / ``HTTPError`` -> ``create_user`` / ``get_item`` /
    ``http_error``; never empty, never starting with a digit or ``_``, never a keyword (a
    trailing ``_`` is added)."""
    words = _NON_ALNUM.sub(" ", _WORD_BREAK.sub(" ", text)).split()
    name = "_".join(w.lower() for w in words) or fallback
    if name[0].isdigit():
        name = f"{fallback}_{name}"
    return name + "_" if keyword.iskeyword(name) else name


def camel(text: str, *, fallback: str = "Schema") -> str:
    """``model_input`` / ``Body_create_x`` / ``HTTPError`` -> ``ModelInput`` / ``BodyCreateX`` /
    ``HTTPError``: words joined with their first letter upper-cased (the rest kept)."""
    words = _NON_ALNUM.sub(" ", text).split()
    name = "".join(w[0].upper() + w[1:] for w in words) or fallback
    return f"{fallback}{name}" if name[0].isdigit() else name


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``... (``Name2`` for CamelCase), the first not in
    ``taken``; the result is added to ``taken``."""
    candidate, n = name, 1
    joint = "" if name[:1].isupper() else "_"
    while candidate in taken:
        n += 1
        candidate = f"{name}{joint}{n}"
    taken.add(candidate)
    return candidate
