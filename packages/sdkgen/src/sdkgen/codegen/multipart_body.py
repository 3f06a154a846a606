"""`body: multipart` endpoints: which request fields are files, and what the schema may hold.

A `multipart/form-data` body is a list of parts: a file (a property written
`{type: string, format: binary}`, OpenAPI's spelling, or a list of them) or one text value
(string, number, integer, boolean, enum) or a list of them, sent as the part repeated. A nested
object has no part of its own, so the generator refuses it rather than guess an encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .form_body import is_flat
from .loader import Key
from .manifest import Endpoint
from .schema_walk import properties_of

__all__ = ["MULTIPART_CONTENT_TYPE", "check_multipart_body", "file_fields", "is_file_schema"]

MULTIPART_CONTENT_TYPE = "multipart/form-data"


def is_file_schema(schema: Any) -> bool:
    """A file part: `{type: string, format: binary}`."""
    return (
        isinstance(schema, dict)
        and schema.get("type") == "string"
        and schema.get("format") == "binary"
    )


def file_fields(request: Any) -> dict[str, bool]:
    """The file fields of a multipart request schema: wire name -> whether it is a list."""
    out: dict[str, bool] = {}
    for name, prop in properties_of(request).items():
        if is_file_schema(prop):
            out[name] = False
        elif isinstance(prop, dict) and is_file_schema(prop.get("items")):
            out[name] = True  # a list of files: the part repeated
    return out


def check_multipart_body(
    schemas: Mapping[str, Any],
    ep: Endpoint,
    request: Any,
    path: Key,
    add: Callable[[Key, str], None],
) -> None:
    """Report, through ``add(path, message)``, a `body: multipart` endpoint without a
    `request:` schema, with a `content_type` (the boundary is the runtime's) or `compress`
    (the body is streamed), or with a field that cannot be a part (an object, a list of them).

    Example::

        check_multipart_body(manifest.schemas, ep, request_schema, path, problems.add)
    """
    if ep.body != "multipart":
        return
    if ep.request is None:
        add(
            (*path, "body"),
            "a `body: multipart` endpoint needs a `request:` schema (its fields and files)",
        )
        return
    if ep.content_type is not None:
        add(
            (*path, "content_type"),
            f"a `body: multipart` endpoint is always `{MULTIPART_CONTENT_TYPE}` with a boundary "
            "the runtime chooses; remove `content_type`",
        )
    if ep.compress is not None:
        add(
            (*path, "compress"),
            "a `body: multipart` body is streamed from its files and cannot be compressed; "
            "remove `compress`",
        )
    files = file_fields(request)
    for name, prop in properties_of(request).items():
        if name not in files and not is_flat(schemas, prop):
            add(
                ("schemas", ep.request, "properties", name),
                f"field `{name}` of `{ep.request}` (the multipart body of `{path[-1]}`) cannot "
                "be a part: a part is a file (`{type: string, format: binary}`), one value "
                "(string, number, integer, boolean, enum) or a list of them; flatten the "
                "object or use `body: json`",
            )
