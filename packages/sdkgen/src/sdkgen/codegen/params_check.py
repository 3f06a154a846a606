"""Rules for an endpoint's parameters by location (path, query, header, cookie), their Python
names, and binary responses. Called by ``validate``; every problem carries its key path."""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable

from .loader import Key
from .manifest import Api, Endpoint, Param, auth_list
from .property_names import python_names

__all__ = [
    "BINARY",
    "RUNTIME_HEADERS",
    "check_argument_names",
    "check_binary",
    "check_param_locations",
    "param_problem",
    "python_name",
]

Add = Callable[[Key, str], None]

# The `response` value of an endpoint whose answer is bytes, not a schema (schema names are
# capitalised, so no schema can be called this).
BINARY = "binary"
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name, RFC 6265 cookie name
# Headers the runtime or the HTTP library sets itself: a parameter may not replace them.
RUNTIME_HEADERS = frozenset(
    {
        "accept", "connection", "content-encoding", "content-length", "content-type", "cookie",
        "host", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "traceparent",
        "tracestate",
    }
)  # fmt: skip
_SCALARS = frozenset({"string", "integer", "number", "boolean"})


def python_name(wire: str, param: Param) -> str:
    """The argument name of a parameter: its `name` alias, else its wire name."""
    return param.name or wire


def param_problem(wire: str, param: Param, reserved: frozenset[str]) -> str | None:
    """Why a parameter's Python name is not usable, naming the fix; None when it is."""
    py = python_name(wire, param)
    if _IDENT.match(py) and not keyword.iskeyword(py) and py not in reserved:
        return None
    if param.name is not None:
        return (
            f"`name: {py}` is not usable as a Python argument (lower-case identifier, no keyword)"
        )
    alias = re.sub(r"[^a-z0-9_]", "_", wire.lower()).lstrip("_0123456789") or "value"
    if keyword.iskeyword(alias) or alias in reserved:
        alias += "_"
    return (
        f"parameter name `{wire}` is not usable as a Python argument: keep it as the wire name "
        f"and add `name: {alias}` (the argument's name)"
    )


def _reserved_headers(api: Api, ep: Endpoint) -> dict[str, str]:
    """Header names (lower case) a header parameter would collide with, and who sets them."""
    taken = dict.fromkeys(RUNTIME_HEADERS, "the runtime sets it")
    for name, who in (
        *((a.header, "`api.auth.header`") for a in auth_list(api.auth)),
        (api.idempotency_header, "`api.idempotency_header`"),
        (api.retry_count_header, "`api.retry_count_header`"),
        (api.futures.iteration_header if api.futures else None, "`api.futures.iteration_header`"),
    ):
        if name:
            taken[name.lower()] = who
    taken.update({name.lower(): "`api.default_headers`" for name in api.default_headers})
    taken.update({name.lower(): "this endpoint's `headers`" for name in ep.headers})
    taken.update({name.lower(): "this endpoint's `secret_headers`" for name in ep.secret_headers})
    return taken


def _scalar(param: Param) -> bool:
    schema = param.schema_
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "enum" in schema or "const" in schema or "$ref" in schema or "anyOf" in schema:
        return True
    return bool(kinds) and all(k in _SCALARS or k == "null" for k in kinds)


def check_param_locations(api: Api, ep: Endpoint, path: Key, add: Add) -> None:
    """`in` only on `query:` entries; header and cookie names that are tokens, scalar values,
    no collision with a header the runtime sets or with each other; one Python name per
    argument across path, query, header and cookie parameters, body fields and secret headers."""
    for wire, param in ep.path_params.items():
        if param.in_ is not None:
            add(
                (*path, "path_params", wire, "in"),
                "a path parameter is in the path; `in` is for `query:` entries (header, cookie)",
            )
    reserved = _reserved_headers(api, ep)
    seen: dict[tuple[str, str], str] = {}
    for wire, param in ep.query.items():
        where = param.location
        if where == "query":
            continue
        ppath = (*path, "query", wire)
        if not _TOKEN.match(wire):
            add(ppath, f"`{wire}` is not a valid {where} name (an HTTP token: no spaces or `;,=`)")
        if where == "header" and wire.lower() in reserved:
            add(
                ppath,
                f"header `{wire}` collides with a header {reserved[wire.lower()]} sets; "
                "rename the parameter or drop the other header",
            )
        key = (where, wire.lower() if where == "header" else wire)
        if key in seen:
            add(ppath, f"{where} `{wire}` is already the parameter `{seen[key]}`")
        seen.setdefault(key, wire)
        if not _scalar(param):
            add((*ppath, "schema"), f"a {where} parameter is a single value: use a scalar schema")
        if param.allow_slash:
            add((*ppath, "allow_slash"), "`allow_slash` is for path parameters only")


def check_argument_names(
    ep: Endpoint, request: dict[str, object] | None, path: Key, add: Add
) -> None:
    """An aliased parameter's Python name must not be another argument's (parameter, body
    field or secret header argument): the generated method would take it twice."""
    names: dict[str, list[tuple[Key, bool]]] = {}
    for group in ("path_params", "query"):
        params: dict[str, Param] = getattr(ep, group)
        for wire, param in params.items():
            at = (*path, group, wire, "name") if param.name else (*path, group, wire)
            names.setdefault(python_name(wire, param), []).append((at, param.name is not None))
    for prop in python_names(request).values():
        names.setdefault(prop, []).append(((*path, "request"), False))
    for header, arg in ep.secret_headers.items():
        names.setdefault(arg, []).append(((*path, "secret_headers", header), False))
    for py, owners in names.items():
        if len(owners) > 1:
            for at, aliased in owners:
                if aliased:
                    add(at, f"argument `{py}` is taken by another parameter or body field")


def check_binary(ep: Endpoint, eid: str, siblings: set[str], path: Key, add: Add) -> None:
    """A binary response is bytes: no future, event stream or pages; and the streaming twin's
    method name (`stream_<id>`) must be free in the resource."""
    if ep.response != BINARY:
        return
    for key in ("future", "stream", "paginate"):
        if getattr(ep, key) is not None:
            add((*path, key), f"`{key}` cannot be combined with `response: binary`")
    if f"stream_{eid}" in siblings:
        add(
            (*path, "response"),
            f"`response: binary` also emits `stream_{eid}`, the name of another endpoint here",
        )
