"""An OpenAPI 3.0 / 3.1 document as manifest data: API metadata, auth, one endpoint per
path + method (parameters, body, 2xx response) and every component schema.

Each key of the result remembers where in the document it came from, so that the manifest's
checks point at the document's line. What the manifest cannot say is left out or approximated
and listed in ``notes``; what makes the document unusable is a located problem.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ManifestError
from ..loader import Key, Loaded
from ..multipart_body import is_file_schema
from ..params_check import RUNTIME_HEADERS
from ..validate import CLIENT_MEMBERS, GENERATED_MODULES, RESERVED_ARGS
from .context import Context
from .names import camel, snake, unique
from .schemas import SchemaTranslator
from .security import translate_security

__all__ = ["Operation", "Translation", "translate_document"]

_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_SUPPORTED = frozenset({"get", "put", "post", "delete", "patch"})
_IDEMPOTENT = frozenset({"get", "put", "delete"})  # RFC 9110 section 9.2.2
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_PREFIX = re.compile(r"^(api|v\d+[a-z0-9.]*)$", re.IGNORECASE)
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"
_SCALARS = frozenset({"string", "integer", "number", "boolean"})
# Header parameters OpenAPI itself says to ignore (they are described elsewhere).
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})


@dataclass(frozen=True)
class Operation:
    """One of the document's operations and the endpoint it became."""

    key: str  # "METHOD /path", as an overlay may name it
    operation_id: str | None
    resource: str
    endpoint: str


@dataclass
class Translation:
    """The manifest data of a document, with positions (see :class:`codegen.loader.Loaded`)."""

    loaded: Loaded
    notes: list[str]
    operations: list[Operation] = field(default_factory=list)


def _is_json(media: str) -> bool:
    base = media.split(";")[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


def _segments(path: str) -> list[str]:
    """The path's segments after any leading `api` and version segments."""
    parts = [s for s in path.split("/") if s]
    while parts and _PREFIX.match(parts[0]):
        parts.pop(0)
    return parts


class _Document:
    def __init__(self, doc: Loaded) -> None:
        self.ctx = Context(doc)
        self.doc = doc.data
        self.schemas = SchemaTranslator(self.ctx)
        self.inline: dict[str, dict[str, Any]] = {}
        self.ids: set[str] = set()
        self.operations: list[Operation] = []
        self.auth_headers: set[str] = set()  # lower case: a parameter may not send them

    def resolve(self, node: Any, src: Key, kind: str) -> tuple[Any, Key]:
        """``node`` with a ``#/components/<kind>/X`` reference followed (once)."""
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target, path = self.schemas.follow(node["$ref"], src)
            if path is None:
                return {}, src
            if not node["$ref"].startswith(f"#/components/{kind}/"):
                self.ctx.note(src, f"reference {node['$ref']!r} is not under components/{kind}")
            return target, path
        return node, src

    # -- api -------------------------------------------------------------------------------

    def api(self) -> dict[str, Any]:
        info = self.doc.get("info") if isinstance(self.doc.get("info"), dict) else {}
        title = str(info.get("title") or "API")
        self.ctx.mark(("api",), ("info",))
        api: dict[str, Any] = {
            "name": snake(title, fallback="api"),
            "title": title,
            "client_class": camel(title, fallback="Api"),
            "version": str(info.get("version") or "0"),
            "base_url": self.base_url(),
        }
        for key in ("name", "title", "client_class"):
            self.ctx.mark(("api", key), ("info", "title"))
        self.ctx.mark(("api", "version"), ("info", "version"))
        self.ctx.mark(("api", "base_url"), ("servers",))
        auth = translate_security(self.ctx, api["name"])
        if auth:
            api["auth"] = auth if len(auth) > 1 else auth[0]
        api["retry_policies"] = {"default": {}}
        return api

    def base_url(self) -> str:
        servers = self.doc.get("servers")
        server = servers[0] if isinstance(servers, list) and servers else None
        url = server.get("url") if isinstance(server, dict) else None
        if not isinstance(url, str):
            self.ctx.note(("servers",), "no server URL: base_url is http://localhost; set it")
            return "http://localhost"
        variables = server.get("variables") if isinstance(server, dict) else None
        for name, var in (variables or {}).items():
            if isinstance(var, dict) and "default" in var:
                url = url.replace("{" + name + "}", str(var["default"]))
        if not re.match(r"^https?://", url):
            self.ctx.note(
                ("servers", 0, "url"),
                f"server URL {url!r} is relative: base_url is "
                f"http://localhost{url}; set the real host",
            )
            url = "http://localhost" + (url if url.startswith("/") else "/" + url)
        return url.rstrip("/") if url.count("/") > 2 else url

    # -- operations ------------------------------------------------------------------------

    def walk(self) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        paths = self.doc.get("paths")
        found = []
        for path, item in paths.items() if isinstance(paths, dict) else ():
            item, _ = self.resolve(item, ("paths", path), "pathItems")
            for method in _METHODS:
                op = item.get(method) if isinstance(item, dict) else None
                if not isinstance(op, dict):
                    continue
                if method not in _SUPPORTED:
                    self.ctx.note(("paths", path, method), f"{method.upper()} is not supported")
                    continue
                found.append((path, method, item, op))
        return found

    def resource_of(self, path: str, counts: dict[str, int]) -> str:
        """The resource of an operation without tags: the first segment of its path after any
        leading `api` and version (`v1`, `v2beta`) segments; an operation alone under a
        one-segment path (`/healthz`) goes to `default`. ``counts``: operations per segment."""
        rest = _segments(path)
        head = rest[0] if rest and not rest[0].startswith("{") else ""
        if not head or (counts[head] == 1 and len(rest) == 1):
            return "default"
        return head

    def endpoint_id(self, op: dict[str, Any], method: str, path: str) -> str:
        op_id = op.get("operationId")
        if isinstance(op_id, str) and op_id.strip():
            name = snake(op_id, fallback="op")
            # FastAPI's default ids repeat the path and the method: `create_x_api_v1_x_post`.
            suffix = "_" + snake(f"{path} {method}")
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
        else:
            name = snake(f"{method} {path}", fallback="op")
        return unique(name, self.ids)

    def endpoints(self) -> dict[str, Any]:
        found = self.walk()
        counts: dict[str, int] = {}
        for path, *_ in found:
            first = (_segments(path) or [""])[0]
            counts[first] = counts.get(first, 0) + 1
        tag_docs = {
            t["name"]: t.get("description", "")
            for t in self.doc.get("tags") or []
            if isinstance(t, dict) and isinstance(t.get("name"), str)
        }
        resources: dict[str, Any] = {}
        taken_resources = GENERATED_MODULES | CLIENT_MEMBERS
        for path, method, item, op in found:
            src: Key = ("paths", path, method)
            tags = op.get("tags")
            tag = tags[0] if isinstance(tags, list) and tags and isinstance(tags[0], str) else None
            rname = snake(tag) if tag else self.resource_of(path, counts)
            if rname in taken_resources:
                rname += "_resource"
            eid = self.endpoint_id(op, method, path)
            resource = resources.setdefault(rname, {"description": "", "endpoints": {}})
            if tag and not resource["description"]:
                resource["description"] = str(tag_docs.get(tag) or "")
            rpath: Key = ("resources", rname)
            self.ctx.mark(rpath, (*src, "tags") if tag else src)
            out: Key = (*rpath, "endpoints", eid)
            self.ctx.mark(out, src)
            resource["endpoints"][eid] = self.endpoint(path, method, item, op, src, out, eid)
            op_id = op.get("operationId") if isinstance(op.get("operationId"), str) else None
            self.operations.append(Operation(f"{method.upper()} {path}", op_id, rname, eid))
        for resource in resources.values():
            if not resource["description"]:
                del resource["description"]
        return resources

    def endpoint(
        self, path: str, method: str, item: dict[str, Any], op: dict[str, Any], src: Key,
        out: Key, eid: str,
    ) -> dict[str, Any]:  # fmt: skip
        ep: dict[str, Any] = {"method": method.upper(), "path": path}
        text = "\n".join(str(op[k]).strip() for k in ("summary", "description") if op.get(k))
        if text:
            ep["description"] = text
        self.parameters(ep, item, op, src, out)
        self.request_body(ep, op, src, out, eid)
        self.response(ep, op, src, out, eid)
        if op.get("deprecated") is True:
            ep["deprecated"] = True
        if method in _IDEMPOTENT:
            ep["idempotent"] = True
        return ep

    def parameters(
        self, ep: dict[str, Any], item: dict[str, Any], op: dict[str, Any], src: Key, out: Key
    ) -> None:
        listed: dict[tuple[str, str], tuple[dict[str, Any], Key]] = {}
        for owner, owner_src in ((item, src[:2]), (op, src)):
            for i, raw in enumerate(owner.get("parameters") or []):
                param, psrc = self.resolve(raw, (*owner_src, "parameters", i), "parameters")
                if isinstance(param, dict) and isinstance(param.get("name"), str):
                    listed[(str(param.get("in")), param["name"])] = (param, psrc)
        auth_headers = self.auth_headers
        used: set[str] = set()
        for (where, wire), (param, psrc) in listed.items():
            if where not in ("path", "query", "header", "cookie"):
                self.ctx.fail((*psrc, "in"), f"unknown parameter location {where!r}")
                continue
            low = wire.lower()
            if where == "header" and (low in _IGNORED_HEADERS | RUNTIME_HEADERS | auth_headers):
                self.ctx.note(psrc, f"header parameter `{wire}` left out: set by the SDK itself")
                continue
            group = "path_params" if where == "path" else "query"
            if wire in ep.get(group, {}):
                self.ctx.note(psrc, f"`{wire}` left out: another parameter has that name")
                continue
            pout = (*out, group, wire)
            schema_node, ssrc = param.get("schema"), (*psrc, "schema")
            if schema_node is None and isinstance(param.get("content"), dict):
                media, content = next(iter(param["content"].items()), (None, {}))
                schema_node = content.get("schema") if isinstance(content, dict) else None
                ssrc = (*psrc, "content", str(media), "schema")
                self.ctx.note(psrc, f"`{wire}` is sent as a plain value, not as {media}")
            schema = self.schemas.translate(schema_node or {}, ssrc, (*pout, "schema"))
            kind = self.schema_kind(schema)
            if where in ("header", "cookie") and kind not in _SCALARS | {"enum"}:
                self.ctx.note(psrc, f"{where} parameter `{wire}` left out: not a single value")
                continue
            if where == "query" and kind == "object":
                self.ctx.note(psrc, f"query parameter `{wire}` left out: objects are not sent")
                continue
            entry: dict[str, Any] = {"schema": schema}
            if param.get("description"):
                entry["description"] = str(param["description"])
            if where != "path" and param.get("required") is True:
                entry["required"] = True
            if where in ("header", "cookie"):
                entry["in"] = where
            alias = self.argument_name(wire, used)
            if alias != wire:
                entry["name"] = alias
            self.ctx.mark(pout, psrc)
            ep.setdefault(group, {})[wire] = entry

    def argument_name(self, wire: str, used: set[str]) -> str:
        name = wire
        if not _IDENT.match(name) or keyword.iskeyword(name) or name in RESERVED_ARGS:
            name = snake(wire)
            if name in RESERVED_ARGS:
                name += "_"
        return unique(name, used)

    def schema_kind(self, schema: dict[str, Any]) -> str:
        """``enum``, a JSON type, or "" (a union, anything) of a translated schema."""
        target = self.schemas.resolve(schema) or {}
        if "enum" in target or "const" in target:
            return "enum"
        members = target.get("anyOf") or []
        kinds = {self.schema_kind(m) for m in members if m.get("type") != "null"}
        if len(kinds) == 1:
            return kinds.pop()
        return str(target.get("type") or "")

    def request_body(
        self, ep: dict[str, Any], op: dict[str, Any], src: Key, out: Key, eid: str
    ) -> None:
        if "requestBody" not in op:
            return
        body, bsrc = self.resolve(op["requestBody"], (*src, "requestBody"), "requestBodies")
        content = body.get("content") if isinstance(body, dict) else None
        if not isinstance(content, dict) or not content:
            return
        media = next((m for m in content if _is_json(m)), None) or (
            _FORM
            if _FORM in content
            else _MULTIPART
            if _MULTIPART in content
            else next(iter(content))
        )
        node = content[media].get("schema") if isinstance(content[media], dict) else None
        msrc = (*bsrc, "content", media, "schema")
        self.ctx.mark((*out, "request"), msrc)
        encoded = {_FORM: "form", _MULTIPART: "multipart"}.get(media, "json")
        if node is not None and (_is_json(media) or encoded != "json"):
            name = self.body_schema(node, msrc, (*out, "request"), f"{eid}_request")
            problem = self.body_problem(name, ep, encoded)
            if problem is None:
                ep["request"] = name
                if encoded != "json":
                    ep["body"] = encoded
                return
            self.ctx.note(msrc, f"the body is taken as bytes (`body: raw`): {problem}")
        elif media.startswith("multipart/"):
            self.ctx.note(
                msrc,
                f"{media.split(';')[0]} bodies are sent as bytes the caller encodes (`body: raw`); "
                "pass the boundary's Content-Type in extra_headers",
            )
        ep["body"] = "raw"
        ep["content_type"] = media

    def body_schema(self, node: Any, src: Key, out: Key, fallback: str) -> str:
        """The schema name of a body or response: the component's, or a new inline one."""
        ref = node.get("$ref") if isinstance(node, dict) else None
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            translated = self.schemas.translate(node, src, out)
            if "$ref" in translated:
                return str(translated["$ref"]).removeprefix("#/schemas/")
        name = self.schemas.new_name(fallback)
        self.inline[name] = self.schemas.translate(node, src, ("schemas", name))
        return name

    def body_problem(self, name: str, ep: dict[str, Any], encoded: str) -> str | None:
        schema = self.inline.get(name) or self.schemas.resolve({"$ref": f"#/schemas/{name}"})
        if not schema or schema.get("type") != "object" or not schema.get("properties"):
            self.inline.pop(name, None)
            return "it is not an object with properties"
        params = {*ep.get("path_params", {}), *ep.get("query", {})}
        clash = sorted(params & set(schema["properties"]))
        if clash:
            return f"body field `{clash[0]}` has the name of a parameter"
        if encoded == "json":
            return None
        for prop, sub in schema["properties"].items():
            kind = self.schema_kind(sub)
            item = sub
            if kind == "array":
                item = self.schemas.resolve(sub).get("items") or {}  # type: ignore[union-attr]
                kind = self.schema_kind(item)
            if encoded == "multipart" and is_file_schema(self.schemas.resolve(item)):
                continue  # a file part (`format: binary`), or several under one name
            if kind not in _SCALARS | {"enum"}:
                what = "a file, a single value" if encoded == "multipart" else "a single value"
                return f"{encoded} field `{prop}` is not {what} or a list of them"
        return None

    def response(
        self, ep: dict[str, Any], op: dict[str, Any], src: Key, out: Key, eid: str
    ) -> None:
        responses = op.get("responses")
        if not isinstance(responses, dict):
            return
        codes = sorted(str(c) for c in responses if re.match(r"^2(\d\d|XX)$", str(c), re.I))
        if not codes:
            return
        code = codes[0]
        key = next(c for c in responses if str(c) == code)
        reply, rsrc = self.resolve(responses[key], (*src, "responses", key), "responses")
        content = reply.get("content") if isinstance(reply, dict) else None
        if not isinstance(content, dict) or not content:
            return
        media = next((m for m in content if _is_json(m)), None) or next(iter(content))
        node = content[media].get("schema") if isinstance(content[media], dict) else None
        msrc = (*rsrc, "content", media, "schema")
        self.ctx.mark((*out, "response"), msrc)
        if _is_json(media):
            schema = node if node is not None else {}
            ep["response"] = self.body_schema(schema, msrc, (*out, "response"), f"{eid}_response")
        elif media.split(";")[0].strip() == "text/event-stream" and node is not None:
            event = self.body_schema(node, msrc, (*out, "stream"), f"{eid}_event")
            ep["stream"] = {"format": "sse", "event": event}
        else:
            ep["response"] = "binary"

    def run(self) -> dict[str, Any]:
        version = self.doc.get("openapi")
        if not isinstance(version, str) or not re.match(r"^3\.[01]\.", version):
            found = self.doc.get("swagger") or version
            self.ctx.fail(
                ("openapi",),
                f"not an OpenAPI 3.0 or 3.1 document (openapi: {found!r}); convert a Swagger 2 "
                "document first (for example with swagger2openapi)",
            )
            raise ManifestError(self.ctx.problems)
        api = self.api()
        auth = api.get("auth")
        for cred in auth if isinstance(auth, list) else [auth] if auth else []:
            self.auth_headers.add(str(cred.get("header", "")).lower())
        resources = self.endpoints()
        schemas = self.schemas.all_components()
        schemas.update(self.inline)
        self.schemas.settle_names(schemas)
        self.ctx.flush_dropped()
        if self.ctx.problems:
            raise ManifestError(self.ctx.problems)
        return {"manifest_version": 1, "api": api, "resources": resources, "schemas": schemas}


def translate_document(doc: Loaded) -> Translation:
    """The manifest data of the OpenAPI document ``doc`` (see :func:`read_document`).

    Raises:
        ManifestError: the document is not OpenAPI 3.0 / 3.1, or has a reference that names
            nothing or points to another file, located in the document.
    """
    document = _Document(doc)
    data = document.run()
    loaded = Loaded(doc.file, data, document.ctx.positions, document.ctx.files)
    return Translation(loaded, document.ctx.notes, document.operations)
