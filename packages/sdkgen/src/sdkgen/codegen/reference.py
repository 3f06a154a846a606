"""A Markdown reference of the API, rendered from the manifest: every endpoint with its method,
path, flags, request and response, and every schema with its fields and defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2

from .manifest import Endpoint, Manifest
from .params_check import BINARY
from .pytypes import TypeMapper, is_class_schema

__all__ = ["render_reference"]


def _cell(text: Any) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(schema: dict[str, Any]) -> str:
    return f"`{json.dumps(schema['default'])}`" if "default" in schema else ""


def _flags(ep: Endpoint) -> list[str]:
    flags = []
    if ep.future:
        flags.append("future")
    if ep.stream:
        flags.append(f"stream: {ep.stream.format}")
    if ep.compress:
        flags.append(f"compress: {ep.compress}")
    if ep.body == "raw":
        flags.append(f"body: {ep.content_type}")
    elif ep.body in ("form", "multipart"):
        flags.append(f"body: {ep.body}")  # the reader must know it is not JSON
    flags.append("idempotent" if ep.idempotent else "not idempotent")
    flags.append(f"retry: {ep.retry}")
    if ep.resubmit:
        flags.append(f"resubmitted by the caller: {ep.resubmit}")
    if ep.backpressure:
        statuses = "/".join(str(s) for s in ep.backpressure.statuses)
        flags.append(f"backpressure: {statuses}")
    if ep.timeout:
        flags.append(f"timeout: {ep.timeout:g}s")
    if ep.pool != "default":
        flags.append(f"pool: {ep.pool}")
    if ep.paginate:
        flags.append("paginated")
    if ep.secret_headers:
        flags.append("secret headers: " + ", ".join(ep.secret_headers))
    return flags


def render_reference(manifest: Manifest, manifest_path: Path, env: jinja2.Environment) -> str:
    types = TypeMapper(manifest.schemas, prefix="")
    resources = []
    for rname, resource in manifest.resources.items():
        endpoints = []
        for eid, ep in resource.endpoints.items():
            params = [
                {
                    "name": name,
                    "where": where if where == "path" else p.location,  # query, header, cookie
                    "type": _cell(types.annotation(p.schema_)),
                    "default": _default(p.schema_),
                    "description": _cell(p.description),
                }
                for where, group in (("path", ep.path_params), ("query", ep.query))
                for name, p in group.items()
            ]
            endpoints.append(
                {
                    "id": eid,
                    "method": ep.method,
                    "path": ep.path,
                    "description": ep.description.strip(),
                    "request": ep.request,
                    "response": ep.response,
                    "future": ep.future.result if ep.future else None,
                    "flags": _flags(ep),
                    "params": params,
                    "deprecated": ep.deprecated
                    if isinstance(ep.deprecated, str)
                    else ("yes" if ep.deprecated else None),
                }
            )
        resources.append(
            {"name": rname, "description": resource.description.strip(), "endpoints": endpoints}
        )
    schemas = []
    for name, schema in manifest.schemas.items():
        required = set(schema.get("required") or [])
        fields = (
            [
                {
                    "name": fname,
                    "type": _cell(types.annotation(prop)),
                    "required": fname in required,
                    "default": _default(prop),
                    "description": _cell(prop.get("description", "")),
                }
                for fname, prop in (schema.get("properties") or {}).items()
            ]
            if is_class_schema(schema)
            else []
        )
        schemas.append(
            {
                "name": name,
                "description": _cell(schema.get("description", "")),
                "fields": fields,
                "type": _cell(types.annotation(schema)),
            }
        )

    def schema_link(name: str | None) -> str:
        if name == BINARY:
            return "bytes"  # no schema to link to
        return f"[`{name}`](#{name.lower()})" if name else "-"

    template = env.get_template("reference.md.j2")
    text = template.render(
        manifest_name=manifest_path.name,
        api=manifest.api,
        base_url=manifest.api.base_url,
        resources=resources,
        endpoints=[e for r in resources for e in r["endpoints"]],
        schemas=schemas,
        schema_link=schema_link,
    )
    # Headings stand apart by exactly one blank line, whatever the template's spacing.
    text = re.sub(r"\n*(\n#{1,4} [^\n]*)\n*", r"\n\1\n\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
