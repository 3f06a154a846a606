"""`errors:` of the API and of its endpoints: the declared shapes of error bodies.

```yaml
errors:
  message_field: error.message    # where the message is, for the entries below
  default: ErrorBody              # any error status without an entry of its own
  4xx: ClientError                # a family
  404: {schema: NotFound, message_field: detail}   # a status, with its own message path
```

An endpoint's entries are looked at before the API's (exact status, family, `default` in each);
an endpoint entry without a message path takes its map's, else the API's `message_field`. This
module checks the keys, the schema names and that every message path is a field of its schema
(problems with their key path), and writes the runtime's ``ErrorSchemas`` for the spec.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .loader import Key
from .manifest import ErrorEntry, ErrorMap
from .pagination import field_at

__all__ = ["check_errors", "error_schemas_source", "inherited_message_field", "schema_names"]

Add = Callable[[Key, str], None]

_STATUS_KEY = re.compile(r"^(?:[45][0-9][0-9]|[45]xx)$")
_FIELD_PATH = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")
_MESSAGE = "message_field"


def inherited_message_field(api_errors: ErrorMap) -> str | None:
    """The API's `message_field`, which endpoint entries without one of their own take."""
    value = api_errors.get(_MESSAGE)
    return value if isinstance(value, str) and _FIELD_PATH.match(value) else None


def _entries(
    errors: ErrorMap, inherited: str | None
) -> Iterator[tuple[str, str, str | None, str | None]]:
    """(key, schema name, message path, where that path was given: 'own' | 'map' | None)."""
    map_field = inherited_message_field(errors)
    for key, value in errors.items():
        if key == _MESSAGE:
            continue
        if isinstance(value, ErrorEntry):
            name, own = value.schema_, value.message_field
        else:
            name, own = value, None
        if own is not None:
            yield key, name, own, "own"
        elif map_field is not None:
            yield key, name, map_field, "map"
        else:
            yield key, name, inherited, None


def schema_names(errors: ErrorMap) -> list[str]:
    """The schemas an `errors:` map names (the server sends them: see models)."""
    return [name for _, name, _, _ in _entries(errors, None)]


def check_errors(
    schemas: Mapping[str, Any], errors: ErrorMap, path: Key, add: Add, inherited: str | None
) -> None:
    """Report every problem of one `errors:` map through ``add(path, message)``.

    Example::

        check_errors(m.schemas, m.api.errors, ("api", "errors"), problems.add, None)
    """
    if not errors:
        return
    if _MESSAGE in errors and inherited_message_field(errors) is None:
        add(
            (*path, _MESSAGE),
            "`message_field` is a dotted path of field names, such as `error.message`",
        )
    if not any(key != _MESSAGE for key in errors):
        add(path, "declares no error schema: add `default: Schema` or a status (`404: Schema`)")
    for key, name, field, given in _entries(errors, inherited):
        here = (*path, key)
        if key != "default" and not _STATUS_KEY.match(key):
            add(
                here,
                f"`{key}` is not an error status: use `default`, a status from 400 to 599 "
                "(`404`) or a family (`4xx`, `5xx`)",
            )
        if name not in schemas:
            where = (*here, "schema") if isinstance(errors[key], ErrorEntry) else here
            add(where, f"unknown schema `{name}`")
            continue
        if field is not None and field_at(schemas, schemas[name], field) is None:
            where = {"own": (*here, _MESSAGE), "map": (*path, _MESSAGE)}.get(given or "", here)
            origin = "" if given else " (the API's `errors.message_field`)"
            add(
                where,
                f"message field `{field}`{origin} is not a field of `{name}` (errors.{key}); "
                "name a dotted path of its properties, such as `error.message`",
            )


def error_schemas_source(errors: ErrorMap, inherited: str | None) -> str | None:
    """The runtime's ``ErrorSchemas(...)`` for one map (None when it declares nothing); the
    schemas are ``models.<Name>``."""
    items = []
    for key, name, field, _ in _entries(errors, inherited):
        status: int | str = int(key) if key.isdigit() else key
        shape = f"ErrorShape(models.{name}, {field!r})" if field else f"ErrorShape(models.{name})"
        items.append(f"{status!r}: {shape}")
    return "ErrorSchemas({" + ", ".join(items) + "})" if items else None
