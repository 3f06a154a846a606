"""Regular expressions of a manifest (`pattern`), checked with the engine the generated models use.

pydantic compiles a model's `pattern` with the Rust `regex` crate, which runs in linear time and
has no look-around or back-references. The generator checks patterns and defaults with that same
engine: Python's `re`, which jsonschema would use, can take exponential time on a pattern such
as `^(a+)+$` (a manifest could hang the generator), and would accept patterns the generated
models then fail to build.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import jsonschema
from pydantic_core import (
    SchemaError,
    SchemaValidator,
    ValidationError as CoreValidationError,
    core_schema,
)

__all__ = ["DefaultsValidator", "pattern_problem"]


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> SchemaValidator | str:
    """A validator of strings matching ``pattern`` (searched, as JSON Schema says), or why not."""
    try:
        return SchemaValidator(core_schema.str_schema(pattern=pattern))
    except SchemaError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        return lines[-1] if lines else "not a regular expression"


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` cannot be a model's pattern, or None when it can.

    Example:
        >>> pattern_problem("(?=a)")
        'error: look-around, including look-ahead and look-behind, is not supported'
    """
    if not isinstance(pattern, str):
        return "a pattern is a string"
    compiled = _compiled(pattern)
    return compiled if isinstance(compiled, str) else None


def _pattern(
    validator: Any, pattern: Any, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    if not validator.is_type(instance, "string") or not isinstance(pattern, str):
        return
    compiled = _compiled(pattern)
    if isinstance(compiled, str):
        return  # reported where the pattern is
    try:
        compiled.validate_python(instance)
    except CoreValidationError:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# Draft 2020-12 with `pattern` checked by the Rust engine (defaults are checked with it).
DefaultsValidator: Any = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"pattern": _pattern}
)
