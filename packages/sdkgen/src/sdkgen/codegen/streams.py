"""An endpoint's `stream:` entry (which event names carry which schema, end the stream, or are
skipped; docs/manifest-format.md): its checks and the runtime's `EventRoutes` it becomes."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from .loader import Key
from .manifest import StreamFlag
from .pytypes import TypeMapper

__all__ = ["check_stream", "routes_source"]

# An SSE event name is any line text; the generated code spells it as a Python string, and a
# name with blanks or control characters is far more likely a typo than a server's choice.
_EVENT_NAME = re.compile(r"^[!-~]+$")
# `error` frames always raise the API's error; `message` is the name of unnamed events.
_ERROR, _MESSAGE = "error", "message"


def check_stream(
    stream: StreamFlag, schemas: Collection[str], path: Key, add: Callable[[Key, str], None]
) -> None:
    """Report every problem of ``stream`` (at ``path``) through ``add``."""
    if stream.event is None and not stream.events:
        add(
            path,
            "a stream endpoint must name its event schema: `stream: {format: sse, event: "
            "Schema}` (or `events: {name: Schema}` for named events)",
        )
    if stream.event is not None and stream.event not in schemas:
        add((*path, "event"), f"unknown schema reference `{stream.event}`")
    seen: dict[str, str] = {}
    groups: list[tuple[str, list[str]]] = [
        ("events", list(stream.events)),
        ("end", stream.end),
        ("ignore", stream.ignore),
    ]
    for group, names in groups:
        for i, name in enumerate(names):
            where: Key = (*path, group, name) if group == "events" else (*path, group, i)
            if not _EVENT_NAME.match(name):
                add(where, f"event name {name!r} must be printable ASCII without blanks")
            elif name == _ERROR:
                add(where, "`error` events always raise the API's error; do not list them")
            elif name == _MESSAGE and (group == "events" or stream.event is not None):
                add(
                    where,
                    "`message` is the name of unnamed events, whose schema is `event`: set "
                    "`event` instead" if group == "events" else
                    "`message` events carry `event`'s schema; remove `event` or this entry",
                )  # fmt: skip
            elif name in seen:
                add(where, f"event `{name}` is already listed under `{seen[name]}`")
            seen.setdefault(name, group)
    for name, schema in stream.events.items():
        if schema not in schemas:
            add((*path, "events", name), f"unknown schema reference `{schema}`")
    if stream.unknown == "data" and stream.event is None:
        add(
            (*path, "unknown"),
            "`unknown: data` validates unlisted events against `event`, which is not set: "
            "set `event` or use `ignore` / `error`",
        )


def routes_source(stream: StreamFlag, types: TypeMapper) -> str | None:
    """Python source of the stream's ``EventRoutes``; None when every event carries ``event``
    (the plain type is then passed, as before these keys existed)."""
    if not (stream.events or stream.end or stream.ignore or stream.unknown):
        return None
    args = [types.named(stream.event)] if stream.event else []
    if stream.events:
        pairs = ", ".join(f"{name!r}: {types.named(s)}" for name, s in stream.events.items())
        args.append(f"events={{{pairs}}}")
    if stream.end:
        args.append(f"end={tuple(stream.end)!r}")
    if stream.ignore:
        args.append(f"ignore={tuple(stream.ignore)!r}")
    args.append(f"unknown={stream.unknown_policy!r}")
    return f"EventRoutes({', '.join(args)})"
