"""The intermediate representation the templates render: names, signatures, docstrings, flags."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

from .error_shapes import error_schemas_source, inherited_message_field
from .form_body import FORM_CONTENT_TYPE
from .futures_contract import futures_spec_source
from .manifest import Auth, Backpressure, Endpoint, Manifest, Param, auth_list
from .multipart_body import file_fields
from .pagination import field_at, paginate_spec_source
from .params_check import BINARY
from .property_names import property_python_name
from .protobuf import CompiledProto
from .pytypes import TypeMapper, is_class_schema
from .streams import routes_source
from .validate import RESERVED_ARGS

__all__ = ["APIIR", "Arg", "EndpointIR", "ResourceIR", "build_ir"]

PARAM_KINDS = ("path", "query", "header", "cookie")  # validated by the endpoint's params model
# Methods that change nothing: the runtime sends no idempotency key with them (its
# SAFE_METHODS), so their generated methods take no `idempotency_key` argument.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Arg:
    name: str
    wire: str
    annotation: str
    default: str | None  # Python source of the default; None = required
    description: str
    kind: str  # path | query | header | cookie | body | secret | content | message
    checked: str = ""  # annotation with the schema's constraints, for parameter validation

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass
class EndpointIR:
    id: str
    const: str
    method: str
    path: str
    summary: str
    details: str
    kind: str  # plain | future | stream | binary
    args: list[Arg]
    spec_kwargs: dict[str, str]
    request_model: str | None
    response_ann: str
    response_expr: str
    response_is_class: bool
    result_ann: str | None = None
    result_expr: str | None = None
    result_is_class: bool = True
    event_ann: str | None = None
    event_routes: str | None = None  # an EventRoutes expression, when the stream names events
    item_ann: str | None = None
    pages: bool = False  # also emit iter_<id>_pages (a `paginate` with an explicit style)
    deprecated: str | None = None
    params_model: str | None = None  # validates path and query arguments before sending
    compress: bool = False  # the call takes `compress` (the manifest compresses its body)
    keyed: bool = False  # the call sends an idempotency key, so it takes `idempotency_key`

    @property
    def protobuf(self) -> bool:
        return bool(self.args_of("message"))

    @property
    def param_args(self) -> list[Arg]:
        return [a for a in self.args if a.kind in PARAM_KINDS]

    @property
    def sent_as_headers(self) -> bool:
        """Some parameters travel as headers or cookies (merged into ``extra_headers``)."""
        return bool(self.args_of("header") or self.args_of("cookie"))

    @property
    def renamed_body(self) -> list[Arg]:
        """Body fields whose argument is not their wire name (a keyword, a reserved name)."""
        return [a for a in self.args_of("body") if a.name != a.wire]

    def args_of(self, kind: str) -> list[Arg]:
        return [a for a in self.args if a.kind == kind]


@dataclass
class ResourceIR:
    name: str
    class_name: str
    description: str
    endpoints: list[EndpointIR] = field(default_factory=list)

    @property
    def protobuf(self) -> bool:
        return any(ep.protobuf for ep in self.endpoints)

    @property
    def annotation_names(self) -> list[str]:
        """The runtime names the module uses in annotations only: imported under
        ``TYPE_CHECKING``, so that importing the module does not load their runtime modules
        (streams, binary bodies, multipart), which the first call that needs them loads."""
        kinds = {ep.kind for ep in self.endpoints}
        names = ["AsyncBinaryStream", "BinaryStream"] if "binary" in kinds else []
        if any("FileInput" in a.annotation for ep in self.endpoints for a in ep.args):
            names.append("FileInput")
        if "stream" in kinds:
            names += ["AsyncStream", "Stream"]
        return names


@dataclass
class APIIR:
    title: str
    client_class: str
    resources: list[ResourceIR]
    endpoints: list[EndpointIR]
    spec_source: str
    protobuf_module: str | None = None
    # The credentials besides api_key (their environment variables): the client's `credentials`.
    credentials: tuple[str, ...] = ()


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[_\-]", name) if part)


def _py_name(wire: str, taken: set[str]) -> str:
    name = wire
    while keyword.iskeyword(name) or name in RESERVED_ARGS or name in taken:
        name += "_"
    taken.add(name)
    return name


def _split_doc(text: str) -> tuple[str, str]:
    text = text.strip()
    if not text:
        return "", ""
    first, _, rest = text.partition("\n")
    return first.strip(), rest.strip()


def _default_source(schema: dict[str, Any]) -> str | None:
    if "default" not in schema:
        return None
    return repr(schema["default"])


class _Builder:
    def __init__(self, manifest: Manifest, proto: CompiledProto | None) -> None:
        self.m = manifest
        self.proto = proto
        self.types = TypeMapper(manifest.schemas)

    def message_name(self, name: str) -> str:
        return self.proto.full_name(name) if self.proto is not None else name

    def type_of(self, name: str) -> tuple[str, str, bool]:
        """(annotation, runtime expression, is a class) for a named schema."""
        ann = self.types.named(name)
        return ann, ann, is_class_schema(self.m.schemas[name])

    def param_arg(self, wire: str, param: Param, kind: str, taken: set[str]) -> Arg:
        ann = self.types.annotation(param.schema_)
        constrained = self.types.constrained(param.schema_)
        default = _default_source(param.schema_)
        if kind != "path" and default is None and not param.required:
            if not ann.endswith("| None") and ann != "Any":
                ann = f"{ann} | None"
                constrained = f"{constrained} | None"
            default = "None"
        name = _py_name(param.name or wire, taken)
        arg = Arg(name, wire, ann, default, param.description.strip(), kind)
        arg.checked = constrained
        return arg

    def endpoint(self, eid: str, ep: Endpoint) -> EndpointIR:
        taken: set[str] = set()
        args: list[Arg] = []
        for wire, param in ep.path_params.items():
            args.append(self.param_arg(wire, param, "path", taken))
        if ep.body == "raw":
            args.append(
                Arg(
                    _py_name("content", taken),
                    "content",
                    "bytes",
                    None,
                    "The encoded request body.",
                    "content",
                )
            )
        if ep.body == "protobuf" and ep.message is not None:
            args.append(
                Arg(
                    _py_name("message", taken),
                    "message",
                    f"_pb.{ep.message} | bytes",
                    None,
                    f"The request, a `{self.message_name(ep.message)}` protobuf message, or "
                    "its serialized bytes (sent as they are: for a body encoded ahead of time).",
                    "message",
                )
            )
        request_model = None
        if ep.request is not None:
            request_model = self.types.named(ep.request)
            schema = self.m.schemas[ep.request]
            required = set(schema.get("required") or [])
            files = file_fields(schema) if ep.body == "multipart" else {}
            for wire, prop in (schema.get("properties") or {}).items():
                if "const" in prop:
                    continue  # discriminator tags are fixed, not arguments
                ann = self.types.annotation(prop)
                if wire in files:  # bytes, a path, a file object or a (name, content) tuple
                    ann = "list[FileInput]" if files[wire] else "FileInput"
                default = None if wire in required else "NOT_GIVEN"
                if default is not None:
                    ann = f"{ann} | NotGiven"
                desc = str(prop.get("description", "")).strip()
                py = property_python_name(wire, prop)
                args.append(Arg(_py_name(py, taken), wire, ann, default, desc, "body"))
        for wire, param in ep.query.items():
            args.append(self.param_arg(wire, param, param.location, taken))
        for header, argname in ep.secret_headers.items():
            args.append(
                Arg(
                    _py_name(argname, taken),
                    header,
                    "str | None",
                    "None",
                    f"Sent as the `{header}` header; never logged.",
                    "secret",
                )
            )
        # Required arguments first, keeping manifest order within each group.
        args.sort(key=lambda a: (a.kind != "path", not a.required))

        kind = "future" if ep.future else "stream" if ep.stream else "plain"
        if ep.response == BINARY:
            kind = "binary"
            response_ann, response_expr, response_is_class = "bytes", "bytes", True
        elif ep.response is not None:
            response_ann, response_expr, response_is_class = self.type_of(ep.response)
        else:
            response_ann, response_expr, response_is_class = "None", "type(None)", True
        summary, details = _split_doc(ep.description)
        ir = EndpointIR(
            id=eid,
            const=eid.upper(),
            method=ep.method,
            path=ep.path,
            summary=summary,
            details=details,
            kind=kind,
            args=args,
            spec_kwargs=self.spec_kwargs(eid, ep),
            request_model=request_model,
            response_ann=response_ann,
            response_expr=response_expr,
            response_is_class=response_is_class,
            deprecated=self.deprecation(ep),
            compress=ep.compress is not None,
            keyed=bool(self.m.api.idempotency_header) and ep.method not in SAFE_METHODS,
        )
        if ep.path_params or ep.query:
            ir.params_model = f"{camel(eid)}Params"
        if ep.future and ep.future.result:
            ir.result_ann, ir.result_expr, ir.result_is_class = self.type_of(ep.future.result)
        if ep.stream:
            ir.event_ann = " | ".join(self.types.named(s) for s in ep.stream.schemas())
            ir.event_routes = routes_source(ep.stream, self.types)
        if ep.paginate is not None and ep.response is not None:
            items = field_at(self.m.schemas, self.m.schemas[ep.response], ep.paginate.items)
            ir.pages = ep.paginate.style is not None
            ir.item_ann = (
                self.types.annotation(items.get("items"))
                if isinstance(items, dict) and items.get("type") == "array"
                else "Any"
            )
        return ir

    @staticmethod
    def deprecation(ep: Endpoint) -> str | None:
        if ep.deprecated is True:
            return "this endpoint is deprecated"
        return ep.deprecated or None

    def spec_kwargs(self, eid: str, ep: Endpoint) -> dict[str, str]:
        kw: dict[str, str] = {"id": repr(eid), "method": repr(ep.method), "path": repr(ep.path)}
        if ep.path_params:
            kw["path_params"] = repr(tuple(ep.path_params))
            slash = tuple(n for n, p in ep.path_params.items() if p.allow_slash)
            if slash:
                kw["slash_params"] = repr(slash)
        if ep.body == "raw":
            kw["body"] = "'raw'"
            kw["content_type"] = repr(ep.content_type)
        elif ep.body == "protobuf" and ep.message is not None:
            kw["body"] = "'protobuf'"
            kw["content_type"] = repr(ep.content_type or "application/x-protobuf")
            kw["message"] = repr(self.message_name(ep.message))
        elif ep.body == "form" and ep.request is not None:
            kw["body"] = "'form'"
            kw["content_type"] = repr(FORM_CONTENT_TYPE)
        elif ep.body == "multipart" and ep.request is not None:
            kw["body"] = "'multipart'"  # the content type, with its boundary, is the runtime's
            files = tuple(file_fields(self.m.schemas[ep.request]))
            if files:
                kw["file_fields"] = repr(files)
        elif ep.request is not None:
            kw["body"] = "'json'"
        if ep.accept:
            kw["accept"] = repr(ep.accept)
        elif ep.response == BINARY:
            kw["accept"] = repr("*/*")  # whatever type the bytes are
        if ep.future:
            kw["future"] = "True"
            if ep.future.protobuf:
                kw["result_message"] = repr(self.message_name(ep.future.protobuf))
            if ep.future.poll_pool:
                kw["poll_pool"] = repr(ep.future.poll_pool)
        if ep.stream:
            kw["stream"] = repr(ep.stream.format)
            kw.setdefault("accept", repr("text/event-stream"))
        if ep.compress:
            kw["compress"] = repr(ep.compress)
        if ep.idempotent:
            kw["idempotent"] = "True"
        if ep.retry != "default":
            kw["retry"] = repr(ep.retry)
        if ep.resubmit is not None:
            kw["resubmit"] = repr(ep.resubmit)
        if ep.backpressure is not None:
            kw["backpressure"] = _backpressure_source(ep.backpressure)
        if ep.timeout is not None:
            kw["timeout"] = repr(float(ep.timeout))
        if ep.pool != "default":
            kw["pool"] = repr(ep.pool)
        if ep.breaker is not None:
            kw["breaker"] = repr(ep.breaker)
        if ep.max_response_bytes is not None:
            kw["max_response_bytes"] = repr(ep.max_response_bytes)
        if ep.headers:
            kw["headers"] = repr(dict(ep.headers))
        if ep.secret_headers:
            kw["secret_headers"] = repr(tuple(ep.secret_headers))
        deprecated = self.deprecation(ep)
        if deprecated:
            kw["deprecated"] = repr(deprecated)
        if ep.paginate:
            kw["paginate"] = paginate_spec_source(ep.paginate)
        errors = error_schemas_source(ep.errors, inherited_message_field(self.m.api.errors))
        if errors is not None:
            kw["errors"] = errors
        return kw


def _backpressure_source(rule: Backpressure) -> str:
    """The ``BackpressureSpec(...)`` of an endpoint's ``backpressure`` rule."""
    kw = [f"statuses={tuple(rule.statuses)!r}", f"window={float(rule.window)!r}"]
    if rule.large_window is not None and rule.large_body is not None:
        kw += [f"large_window={float(rule.large_window)!r}", f"large_body={rule.large_body!r}"]
    return f"BackpressureSpec({', '.join(kw)})"


def _api_spec_source(m: Manifest, proto: CompiledProto | None) -> str:
    api = m.api
    lines = ["APISpec("]

    def add(key: str, value: str) -> None:
        lines.append(f"    {key}={value},")

    add("name", repr(api.name))
    add("title", repr(api.title))
    add("version", repr(api.version))
    add("base_url", repr(api.base_url))
    schemes = auth_list(api.auth)
    add("auth", _auth_spec(schemes[0]) if schemes else "None")
    env = {k: v for k, v in api.env.model_dump().items() if v}
    add("env", repr(env))
    add("default_headers", repr(dict(api.default_headers)))
    add("timeout", repr(float(api.timeout)))
    add("connect_timeout", repr(float(api.connect_timeout)))
    add("idempotency_header", repr(api.idempotency_header))
    add("retry_count_header", repr(api.retry_count_header))
    add("request_id_headers", repr(tuple(api.request_id_headers)))
    policies = []
    for name, p in api.retry_policies.items():
        fields = p.model_dump()
        fields["retry_statuses"] = tuple(fields["retry_statuses"])
        if fields["first_contact_deadline"] is None:  # so a policy without it emits as before
            del fields["first_contact_deadline"]
        body = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        policies.append(f"{name!r}: RetryPolicy({body})")
    add("retry_policies", "{" + ", ".join(policies) + "}")
    pools = [
        f"{name!r}: PoolSpec(max_connections={p.max_connections!r}, max_keepalive={p.max_keepalive!r}, timeout={p.timeout!r}"
        # Only when set, so that the emitted spec of a manifest without it does not change.
        + (", follow_redirects=True" if p.follow_redirects else "")
        + (f", auto_backend={p.auto_backend!r}" if p.auto_backend != "pyqwest" else "")
        + ")"
        for name, p in api.pools.items()
    ]
    add("pools", "{" + ", ".join(pools) + "}")
    if api.circuit_breakers:  # else the runtime's default (none), so other specs do not change
        breakers = []
        for name, b in api.circuit_breakers.items():
            fields = b.model_dump()
            fields["failure_statuses"] = tuple(fields["failure_statuses"])
            body = ", ".join(f"{k}={v!r}" for k, v in fields.items())
            breakers.append(f"{name!r}: CircuitBreakerPolicy({body})")
        add("circuit_breakers", "{" + ", ".join(breakers) + "}")
    if api.futures:
        add("futures", futures_spec_source(api.futures))
    if api.telemetry:
        add("telemetry_endpoint", repr(api.telemetry.endpoint))
    add("user_agent", repr(api.user_agent or api.name))
    # The generated package's top-level name: its users configure one logger, the SDK's own.
    add("logger", '__name__.partition(".")[0]')
    if proto is not None:
        # Imported by the runtime only when a protobuf body or result is met.
        add("protobuf_module", f'__name__.rpartition(".")[0] + {"." + proto.module!r}')
    if "max_response_bytes" in api.model_fields_set:  # else the runtime's default (the same)
        add("max_response_bytes", repr(api.max_response_bytes))
    if len(schemes) > 1:
        add("extra_auth", "(" + "".join(_auth_spec(a) + ", " for a in schemes[1:]) + ")")
    errors = error_schemas_source(api.errors, None)
    if errors is not None:
        add("errors", errors)
    lines.append(")")
    return "\n".join(lines)


def _auth_spec(auth: Auth) -> str:
    # The three keys every manifest had come first and always, so that a manifest using only
    # them generates exactly what it always did; the newer keys only when set.
    text = f"AuthSpec(header={auth.header!r}, env={auth.env!r}, scheme={auth.scheme!r}"
    for key in ("query", "password_env", "missing_help"):
        if getattr(auth, key) is not None:
            text += f", {key}={getattr(auth, key)!r}"
    if auth.required is not False:
        text += f", required={auth.required!r}"
    return text + ")"


def build_ir(manifest: Manifest, proto: CompiledProto | None = None) -> APIIR:
    builder = _Builder(manifest, proto)
    resources: list[ResourceIR] = []
    endpoints: list[EndpointIR] = []
    for rname, resource in manifest.resources.items():
        rir = ResourceIR(rname, camel(rname), resource.description.strip())
        for eid, ep in resource.endpoints.items():
            eir = builder.endpoint(eid, ep)
            rir.endpoints.append(eir)
            endpoints.append(eir)
        resources.append(rir)
    return APIIR(
        title=manifest.api.title,
        client_class=manifest.api.client_class,
        resources=resources,
        endpoints=endpoints,
        spec_source=_api_spec_source(manifest, proto),
        protobuf_module=proto.module if proto is not None else None,
        credentials=_credential_names(manifest),
    )


def _credential_names(manifest: Manifest) -> tuple[str, ...]:
    # As the runtime's _auth.credential_names: every credential's but the first, and passwords.
    names: list[str] = []
    for index, auth in enumerate(auth_list(manifest.api.auth)):
        names += [auth.env] if index else []
        names += [auth.password_env] if auth.password_env else []
    return tuple(names)
