"""Validation of a loaded manifest: structure first, then every cross-reference and rule.

All problems are collected and reported together, each with ``file:line:column`` and key path.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Any

import jsonschema
from pydantic import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .auth_check import check_auth
from .enums import check_open
from .error_shapes import check_errors, inherited_message_field
from .errors import ManifestError, Problem
from .form_body import FORM_CONTENT_TYPE, check_form_body
from .futures_contract import check_futures
from .loader import Key, Loaded
from .manifest import Endpoint, Manifest
from .multipart_body import MULTIPART_CONTENT_TYPE, check_multipart_body
from .pagination import check_paginate
from .params_check import (
    BINARY,
    check_argument_names,
    check_binary,
    check_param_locations,
    param_problem,
)
from .patterns import DefaultsValidator, pattern_problem
from .property_names import (
    PY_NAME,
    check_discriminator_tag,
    check_property_names,
    python_names,
)
from .protobuf import CompiledProto, ProtoError, compile_proto
from .schema_graph import MAX_EXPANDED_DEPTH, SchemaGraph
from .schema_walk import is_class_schema, iter_refs, iter_subschemas, properties_of, ref_name
from .streams import check_stream

__all__ = [
    "SCHEMA_KEYWORDS",
    "is_class_schema",
    "iter_refs",
    "iter_subschemas",
    "ref_name",
    "validate",
]

SCHEMA_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "items", "enum", "const",
        "default", "description", "title", "format", "anyOf", "oneOf", "allOf", "discriminator",
        "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
        "minItems", "maxItems", "pattern", "$ref", "examples", "deprecated", "uniqueItems",
        "open", PY_NAME,
    }
)  # fmt: skip
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_CLASS = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_PATH_PARAM = re.compile(r"\{([^}]*)\}")
RESERVED_ARGS = frozenset(
    {
        "self", "timeout", "extra_headers", "extra_query", "extra_body", "idempotency_key",
        "max_retries", "compress", "request",
    }
)  # fmt: skip
# Members every generated resource has besides its endpoint methods (the raw-response views).
RESOURCE_MEMBERS = frozenset({"with_raw_response", "with_streaming_response"})
# A resource becomes the module `<name>.py` next to these, and the attribute `client.<name>` of
# a client that has these members (the runtime's; tests/codegen compare the list with it).
GENERATED_MODULES = frozenset({"__init__", "api", "client", "endpoints", "models", "params"})
CLIENT_MEMBERS = frozenset(
    {
        "api", "circuit_breakers", "close", "closed", "codecs", "config", "endpoints",
        "http_client", "paginate",
        "paginate_pages", "poll_once", "report_retry", "request", "server_answered", "stream",
        "submit", "telemetry",
        "use_http_backend",
    }
)  # fmt: skip
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # resources and endpoints: no leading underscore
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field name
_PY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_URL_PATH = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/{}]*$")  # RFC 3986 path characters
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")


def _structure(loaded: Loaded) -> tuple[Manifest | None, list[Problem]]:
    try:
        return Manifest.model_validate(loaded.data), []
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p))
            if e["type"] == "extra_forbidden":
                message = f"unknown key `{loc[-1]}`"
            elif e["type"] == "missing":
                message = f"missing required key `{loc[-1]}`"
            else:
                message = e["msg"]
            problems.append(loaded.problem(loc, message))
        return None, problems


class _Checker:
    def __init__(self, loaded: Loaded, manifest: Manifest) -> None:
        self.loaded = loaded
        self.m = manifest
        self.problems: list[Problem] = []
        self.proto: CompiledProto | None = None
        resources = [
            DRAFT202012.create_resource(_to_json_schema(s)) for s in manifest.schemas.values()
        ]
        self.registry: Registry = Registry().with_resources(
            (f"urn:schemas:{name}", r) for name, r in zip(manifest.schemas, resources, strict=True)
        )
        # One validator, evolved per default: a new one would combine the whole registry again
        # each time (quadratic: minutes for a few thousand schemas).
        self.defaults_validator = DefaultsValidator({}, registry=self.registry)
        self.schemas_valid = True  # until one fails the JSON Schema check

    def add(self, path: Key, message: str) -> None:
        self.problems.append(self.loaded.problem(path, message))

    def run(self) -> list[Problem]:
        self.check_protobuf()
        self.check_api()
        self.check_schemas()
        self.check_schema_graph()
        for i, name in enumerate(self.m.eager_schemas):
            if name not in self.m.schemas:
                self.add(("eager_schemas", i), f"`eager_schemas` names an unknown schema `{name}`")
        self.check_endpoints()
        return self.problems

    # -- api ---------------------------------------------------------------------------

    def check_headers(self, headers: dict[str, str], path: Key) -> None:
        """Header names and values go on the wire as they are: no line breaks or other bytes
        that the HTTP library would refuse when the first request is sent."""
        for name, value in headers.items():
            if not _TOKEN.match(name):
                self.add((*path, name), f"header name `{name}` is not an HTTP token")
            if not _HEADER_VALUE.match(value):
                self.add((*path, name), "a header value must be printable ASCII (no line breaks)")

    def check_api(self) -> None:
        api = self.m.api
        self.check_headers(api.default_headers, ("api", "default_headers"))
        check_auth(api.auth, self.add)
        names = {key: getattr(api, key) for key in ("idempotency_header", "retry_count_header")}
        for key, name in names.items():
            if name is not None and not _TOKEN.match(name):
                self.add(("api", *key.split(".")), f"header name `{name}` is not an HTTP token")
        if "default" not in api.retry_policies:
            self.add(("api", "retry_policies"), "a retry policy named `default` is required")
        ids = self.endpoint_ids()
        if api.futures and api.futures.poll_endpoint not in ids:
            self.add(
                ("api", "futures", "poll_endpoint"),
                f"unknown endpoint `{api.futures.poll_endpoint}`",
            )
        elif api.futures:
            self.check_poll_endpoint(api.futures.poll_endpoint, api.futures.request_id_field)
        if api.futures:
            check_futures(api.futures, self.add)
        check_errors(self.m.schemas, api.errors, ("api", "errors"), self.add, None)
        if api.telemetry and api.telemetry.endpoint not in ids:
            self.add(
                ("api", "telemetry", "endpoint"), f"unknown endpoint `{api.telemetry.endpoint}`"
            )

    def check_protobuf(self) -> None:
        spec = self.m.api.protobuf
        if spec is None:
            return
        relative = Path(spec.file)
        if relative.is_absolute() or ".." in relative.parts or not _PY_NAME.match(relative.stem):
            # Its stem names a module of the package (`from . import <stem>_pb2`).
            self.add(
                ("api", "protobuf", "file"),
                "the .proto file must be a relative path inside the manifest's directory, its "
                "name a Python identifier",
            )
            return
        proto = Path(self.loaded.file).parent / spec.file
        if not proto.is_file():
            self.add(("api", "protobuf", "file"), f"no such file: {proto}")
            return
        try:
            self.proto = compile_proto(proto)
        except ProtoError as err:
            self.add(("api", "protobuf", "file"), f"protoc failed: {err}")

    def check_message(self, name: str | None, path: Key) -> None:
        if name is None:
            return
        if self.m.api.protobuf is None:
            self.add(path, "a protobuf message needs `api.protobuf.file` (the .proto schema)")
        elif self.proto is not None and name not in self.proto.messages:
            known = ", ".join(sorted(self.proto.messages))
            self.add(path, f"unknown protobuf message `{name}` (known: {known})")

    def check_poll_endpoint(self, eid: str, field: str) -> None:
        """The poll endpoint must take the future's id: as a path or query parameter, or a body field."""
        ep = next(r.endpoints[eid] for r in self.m.resources.values() if eid in r.endpoints)
        body = properties_of(self.m.schemas.get(ep.request or ""))
        if field not in ep.path_params and field not in ep.query and field not in body:
            self.add(
                ("api", "futures", "request_id_field"),
                f"the poll endpoint `{eid}` takes no `{field}` (path parameter, query parameter "
                "or body field) to send the future's id in",
            )

    def endpoint_ids(self) -> set[str]:
        return {eid for r in self.m.resources.values() for eid in r.endpoints}

    # -- schemas -----------------------------------------------------------------------

    def check_schemas(self) -> None:
        for name, schema in self.m.schemas.items():
            base: Key = ("schemas", name)
            if not _CLASS.match(name) or keyword.iskeyword(name):
                self.add(base, f"schema name `{name}` must be CamelCase (it becomes a class name)")
            for sub, path in iter_subschemas(schema, base):
                if "enum" in sub and sub["enum"] == []:
                    self.add((*path, "enum"), "`enum` is empty: list at least one value")
                self.check_literals(sub, path)
                check_open(sub, path, self.add)
                for key in sub:
                    if key not in SCHEMA_KEYWORDS:
                        self.add((*path, key), f"unknown key `{key}` in a schema")
                if "discriminator" in sub:
                    self.check_discriminator(sub["discriminator"], (*path, "discriminator"))
                    check_discriminator_tag(self.m.schemas, sub, (*path, "discriminator"), self.add)
                self.check_pattern(sub, path)
                # Wrong shapes (`required: 1`, `properties: 1.5`) are the meta-schema's to report.
                props = properties_of(sub)
                required = sub.get("required")
                for req in required if isinstance(required, list) else []:
                    if isinstance(req, str) and req not in props:
                        self.add((*path, "required"), f"required field `{req}` is not a property")
                members: list[tuple[Key, Any]] = [(("properties", k), v) for k, v in props.items()]
                for key in ("anyOf", "oneOf", "allOf"):
                    listed = sub.get(key)
                    if isinstance(listed, list):
                        members += [((key, i), v) for i, v in enumerate(listed)]
                for where, member in members:
                    if isinstance(member, bool):
                        self.add(
                            (*path, *where),
                            "a property or union member must be a mapping (`{}` accepts any "
                            f"value), not `{str(member).lower()}`",
                        )
            check_property_names(name, schema, base, self.add)
            for ref, path in iter_refs(schema, base):
                self.check_ref(ref, path)
            self.check_json_schema(schema, base)
        # After every schema's check: a default is checked through the `$ref`s it reaches.
        for name, schema in self.m.schemas.items():
            self.check_defaults(schema, ("schemas", name))

    def check_literals(self, schema: dict[str, Any], path: Key) -> None:
        """`enum` and `const` values become `Literal[...]` arguments: scalars only."""
        values: list[tuple[Key, Any]] = [(("const",), schema["const"])] if "const" in schema else []
        enum = schema.get("enum")
        values += [(("enum", i), v) for i, v in enumerate(enum)] if isinstance(enum, list) else []
        for where, value in values:
            if not isinstance(value, str | int | float | bool | None):
                self.add(
                    (*path, *where),
                    f"`{where[0]}` values must be strings, numbers, booleans or null (they "
                    f"become a Literal type), not {type(value).__name__}",
                )

    def check_pattern(self, schema: dict[str, Any], path: Key) -> None:
        if "pattern" in schema and (problem := pattern_problem(schema["pattern"])):
            self.add(
                (*path, "pattern"),
                f"the generated models cannot use this pattern (Rust `regex` syntax, no "
                f"look-around or back-references): {problem}",
            )

    def check_discriminator(self, value: Any, path: Key) -> None:
        """`{propertyName: name}`: the name is written into the generated code."""
        name = value.get("propertyName") if isinstance(value, dict) else None
        if not isinstance(name, str) or not _PY_NAME.match(name):
            self.add(path, "a discriminator is `{propertyName: <a property name>}`")
        elif set(value) - {"propertyName", "mapping"}:
            extra = ", ".join(sorted(set(value) - {"propertyName", "mapping"}))
            self.add(path, f"unknown key in a discriminator: {extra}")

    def check_schema_graph(self) -> None:
        """A schema that is not an object (an alias, a union, a list) cannot contain itself: the
        generated alias would name itself before it exists; recursion must pass through a class.
        Nor may a schema nest too deep once the aliases it names are written into it."""
        graph = SchemaGraph(self.m.schemas)
        cycles, order = graph.walk()
        for cycle in cycles:
            self.add(
                cycle.path,
                f"schema `{cycle.members[0]}` contains itself ({' -> '.join(cycle.members)}) "
                "without an object schema in between; make one of them an object with properties",
            )
        if cycles:
            return
        for name, depth in graph.too_deep(order):
            self.add(
                ("schemas", name),
                f"schema `{name}` nests {depth} levels deep once the non-object schemas it names "
                f"are written in (at most {MAX_EXPANDED_DEPTH}); make one of them an object "
                "schema, which becomes a class of its own",
            )

    def check_ref(self, ref: Any, path: Key) -> None:
        name = ref_name(ref) if isinstance(ref, str) else None
        if name is None:
            self.add(path, f"`$ref` must look like '#/schemas/Name', got {ref!r}")
        elif name not in self.m.schemas:
            self.add(path, f"unknown schema reference `{name}`")

    def check_json_schema(self, schema: Any, base: Key) -> bool:
        try:
            jsonschema.Draft202012Validator.check_schema(_to_json_schema(schema))
        except jsonschema.SchemaError as err:
            self.add((*base, *err.path), f"invalid JSON Schema: {err.message}")
            self.schemas_valid = False
            return False
        return True

    def check_defaults(self, schema: dict[str, Any], base: Key) -> None:
        if not self.schemas_valid:
            return  # a default may reach a broken schema through a `$ref`; reported once fixed
        for sub, path in iter_subschemas(schema, base):
            if "default" not in sub:
                continue
            if any(ref_name(r) not in self.m.schemas for r, _ in iter_refs(sub, path)):
                continue  # already reported as an unknown reference
            bare = {k: v for k, v in sub.items() if k != "default"}
            validator = self.defaults_validator.evolve(schema=_to_json_schema(bare))
            error = jsonschema.exceptions.best_match(validator.iter_errors(sub["default"]))
            if error is not None:
                self.add(
                    (*path, "default"),
                    f"default {sub['default']!r} violates its own schema: {error.message}",
                )

    # -- endpoints ---------------------------------------------------------------------

    def check_routes(self) -> None:
        """Two endpoints with one method, path (parameter names aside) and body encoding cannot be
        told apart; one route may have several encodings (a protobuf and a JSON variant)."""
        routes: dict[tuple[str, str, str], list[tuple[str, Key, Endpoint]]] = {}
        for rname, resource in self.m.resources.items():
            for eid, ep in resource.endpoints.items():
                route = (ep.method, _PATH_PARAM.sub("{}", ep.path), _body_type(ep))
                path: Key = ("resources", rname, "endpoints", eid)
                routes.setdefault(route, []).append((eid, path, ep))
        for same in routes.values():
            for _, path, ep in same:
                for other, other_path, _ in same:
                    if other_path == path:
                        continue
                    file, line, col = self.loaded.locate(other_path)
                    self.add(
                        path,
                        f"{ep.method} {ep.path} with a {_body_type(ep)} body is also endpoint "
                        f"`{other}` ({file}:{line}:{col}); two endpoints cannot share "
                        "a method, path and body type: change one's path or remove it",
                    )

    def check_endpoints(self) -> None:
        self.check_routes()
        seen: dict[str, str] = {}
        for rname, resource in self.m.resources.items():
            self.check_resource_name(rname)
            for eid, ep in resource.endpoints.items():
                path: Key = ("resources", rname, "endpoints", eid)
                if eid in seen:
                    self.add(
                        path, f"duplicate endpoint id `{eid}` (also in resource `{seen[eid]}`)"
                    )
                seen[eid] = rname
                if not _NAME.match(eid) or keyword.iskeyword(eid):
                    self.add(
                        path, f"endpoint id `{eid}` must be snake_case, starting with a letter"
                    )
                elif eid in RESOURCE_MEMBERS:
                    self.add(
                        path,
                        f"endpoint id `{eid}` is taken: every resource has `{eid}` (the same "
                        "methods returning the raw response); rename the endpoint",
                    )
                self.check_endpoint(ep, path)
                check_binary(ep, eid, set(resource.endpoints), path, self.add)

    def check_resource_name(self, rname: str) -> None:
        path: Key = ("resources", rname)
        spec = self.m.api.protobuf
        proto = f"{Path(spec.file).stem}_pb2" if spec is not None else None
        if not _NAME.match(rname) or keyword.iskeyword(rname):
            self.add(path, f"resource name `{rname}` must be snake_case, starting with a letter")
        elif rname in GENERATED_MODULES or rname == proto:
            self.add(
                path,
                f"resource name `{rname}` is taken: the generated package has its own module "
                f"`{rname}.py`; rename the resource",
            )
        elif rname in CLIENT_MEMBERS:
            self.add(
                path,
                f"resource name `{rname}` is taken: `client.{rname}` is the client's own; "
                "rename the resource",
            )

    def schema_ref(self, name: str | None, path: Key) -> dict[str, Any] | None:
        if name is None:
            return None
        if name not in self.m.schemas:
            self.add(path, f"unknown schema reference `{name}`")
            return None
        return self.m.schemas[name]

    def check_endpoint(self, ep: Endpoint, path: Key) -> None:
        api = self.m.api
        if not _URL_PATH.match(ep.path):
            self.add(
                (*path, "path"),
                "a path may hold only URL path characters (letters, digits, `-._~!$&'()*+,;=:@%/`) "
                "and `{name}` parameters; percent-encode anything else",
            )
        in_path = _PATH_PARAM.findall(ep.path)
        for name in in_path:
            if name not in ep.path_params:
                self.add((*path, "path"), f"path parameter `{name}` is not declared in path_params")
        for name in ep.path_params:
            if name not in in_path:
                self.add(
                    (*path, "path_params", name), f"path parameter `{name}` is not used in the path"
                )
        for group in ("path_params", "query"):
            for name, param in getattr(ep, group).items():
                ppath = (*path, group, name)
                problem = param_problem(name, param, RESERVED_ARGS)
                if problem is not None:
                    self.add(ppath, problem)
                for ref, rpath in iter_refs(param.schema_, (*ppath, "schema")):
                    self.check_ref(ref, rpath)
                for sub, spath in iter_subschemas(param.schema_, (*ppath, "schema")):
                    self.check_pattern(sub, spath)
                if self.check_json_schema(param.schema_, (*ppath, "schema")):
                    self.check_defaults(param.schema_, (*ppath, "schema"))
        request = self.schema_ref(ep.request, (*path, "request"))
        if request is not None:
            if request.get("type") != "object" or "properties" not in request:
                self.add(
                    (*path, "request"),
                    f"request schema `{ep.request}` must be an object with properties",
                )
            for prop in python_names(request).values():
                if prop in ep.path_params or prop in ep.query:
                    self.add(
                        (*path, "request"),
                        f"body field `{prop}` clashes with a parameter of the same name",
                    )
        check_form_body(self.m.schemas, ep, request, path, self.add)
        check_multipart_body(self.m.schemas, ep, request, path, self.add)
        if ep.body == "raw":
            if ep.request is not None:
                self.add(
                    (*path, "request"), "a `body: raw` endpoint takes bytes, not a request schema"
                )
            if ep.content_type is None:
                self.add((*path, "body"), "a `body: raw` endpoint needs a `content_type`")
        if ep.body == "protobuf":
            if ep.request is not None:
                self.add(
                    (*path, "request"),
                    "a `body: protobuf` endpoint takes its `message`, not a request schema",
                )
            if ep.message is None:
                self.add((*path, "body"), "a `body: protobuf` endpoint needs a `message`")
            self.check_message(ep.message, (*path, "message"))
        elif ep.message is not None:
            self.add((*path, "message"), "`message` is only for `body: protobuf` endpoints")
        if ep.future is not None:
            self.check_message(ep.future.protobuf, (*path, "future", "protobuf"))
            pool = ep.future.poll_pool
            if pool is not None and api.pools and pool not in api.pools:
                known = ", ".join(sorted(api.pools))
                self.add((*path, "future", "poll_pool"), f"unknown pool `{pool}` (known: {known})")
        binary = ep.response == BINARY  # bytes, not a schema
        response = self.schema_ref(None if binary else ep.response, (*path, "response"))
        if ep.future is not None:
            if ep.future.result is None:
                self.add(
                    (*path, "future"),
                    "a future endpoint must name its result schema: `future: {result: Schema}`",
                )
            else:
                self.schema_ref(ep.future.result, (*path, "future", "result"))
            if api.futures is None:
                self.add((*path, "future"), "future endpoints need `api.futures` (how to poll)")
            if ep.response is None:
                self.add(
                    (*path, "response"),
                    "a future endpoint must name the schema of its handle reply",
                )
        if ep.stream is not None:
            check_stream(ep.stream, set(self.m.schemas), (*path, "stream"), self.add)
        if ep.retry not in api.retry_policies:
            self.add(
                (*path, "retry"),
                f"unknown retry policy `{ep.retry}` (known: {', '.join(sorted(api.retry_policies))})",
            )
        if ep.breaker is not None and ep.breaker not in api.circuit_breakers:
            known = (
                ", ".join(sorted(api.circuit_breakers))
                or "none: declare it in `api.circuit_breakers`"
            )
            self.add((*path, "breaker"), f"unknown circuit breaker `{ep.breaker}` (known: {known})")
        if ep.resubmit is not None and ep.resubmit not in api.retry_policies:
            self.add(
                (*path, "resubmit"),
                f"unknown retry policy `{ep.resubmit}` "
                f"(known: {', '.join(sorted(api.retry_policies))})",
            )
        if api.pools and ep.pool not in api.pools:
            self.add(
                (*path, "pool"), f"unknown pool `{ep.pool}` (known: {', '.join(sorted(api.pools))})"
            )
        self.check_headers(ep.headers, (*path, "headers"))
        for key in ("content_type", "accept"):
            value = getattr(ep, key)
            if value is not None and not _HEADER_VALUE.match(value):
                self.add((*path, key), "a header value must be printable ASCII (no line breaks)")
        for header in ep.secret_headers:
            if not _TOKEN.match(header):
                self.add((*path, "secret_headers", header), f"`{header}` is not an HTTP token")
        body_fields = set(python_names(request).values())
        for header, arg in ep.secret_headers.items():
            if not _IDENT.match(arg) or arg in RESERVED_ARGS:
                self.add((*path, "secret_headers", header), f"argument name `{arg}` is not usable")
            if arg in body_fields or arg in ep.path_params or arg in ep.query:
                self.add(
                    (*path, "secret_headers", header),
                    f"argument `{arg}` clashes with a parameter or body field of the same name",
                )
        check_param_locations(api, ep, path, self.add)
        check_argument_names(ep, request, path, self.add)
        check_paginate(self.m.schemas, ep, response, path, self.add)
        inherited = inherited_message_field(api.errors)
        check_errors(self.m.schemas, ep.errors, (*path, "errors"), self.add, inherited)


def _body_type(ep: Endpoint) -> str:
    if ep.body == "protobuf":
        return ep.content_type or "application/x-protobuf"
    if ep.body == "raw":
        return ep.content_type or "raw"
    if ep.body == "form":
        return FORM_CONTENT_TYPE
    if ep.body == "multipart":
        return MULTIPART_CONTENT_TYPE
    return "application/json"


def _to_json_schema(schema: Any) -> Any:
    """The manifest's ``#/schemas/X`` references as resolvable ``urn:schemas:X`` URIs."""
    if isinstance(schema, dict):
        out = {k: _to_json_schema(v) for k, v in schema.items() if k != "discriminator"}
        ref = schema.get("$ref")
        if isinstance(ref, str) and (name := ref_name(ref)):
            out["$ref"] = f"urn:schemas:{name}"
        return out
    if isinstance(schema, list):
        return [_to_json_schema(v) for v in schema]
    return schema


def validate(loaded: Loaded) -> Manifest:
    """Validate ``loaded``; raise :class:`ManifestError` listing every problem found."""
    manifest, problems = _structure(loaded)
    if manifest is None:
        if isinstance(loaded.data, dict):
            # Structure errors hide the rules below; still report broken references we can see.
            problems += _loose_ref_problems(loaded)
        raise ManifestError(problems)
    problems = _Checker(loaded, manifest).run()
    if problems:
        raise ManifestError(problems)
    return manifest


def _loose_ref_problems(loaded: Loaded) -> list[Problem]:
    schemas = loaded.data.get("schemas")
    if not isinstance(schemas, dict):
        return []
    problems = []
    for name, schema in schemas.items():
        for ref, path in iter_refs(schema, ("schemas", name)):
            target = ref_name(ref) if isinstance(ref, str) else None
            if target is None or target not in schemas:
                problems.append(loaded.problem(path, f"unknown schema reference `{ref}`"))
    return problems
