"""A manifest that names an OpenAPI document (``openapi: api.json``) and adds only what
OpenAPI cannot say; merged here into the manifest data the validator and the generator take.

The document gives the API's metadata, endpoints and schemas (see ``operations``); the overlay
sets ``api`` keys (futures, retry policies, pools, auth, headers, ...), overrides endpoints
named by their ``operationId`` or ``METHOD /path``, groups and renames resources, adds schemas
and changes the document's. A key that names something the document does not have is an
error at the overlay's line, with the names it could have meant.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..errors import ManifestError, Problem
from ..loader import Key, Loaded, load_yaml
from .operations import Operation, translate_document
from .source import read_document

__all__ = ["ENDPOINT_KEYS", "OVERLAY_KEYS", "RESOURCE_KEYS", "load_manifest"]

OVERLAY_KEYS = (
    "manifest_version", "openapi", "api", "endpoints", "resources", "schemas",
    "schema_overrides",
)  # fmt: skip
# What an endpoint override may set: what the document cannot say, and a few corrections.
ENDPOINT_KEYS = (
    "name", "resource", "skip", "description", "future", "stream", "paginate", "idempotent",
    "retry", "timeout", "pool", "compress", "headers", "secret_headers", "max_response_bytes",
    "deprecated", "accept", "request", "response", "body", "content_type", "errors",
    "path_params", "resubmit", "backpressure", "breaker",
)  # fmt: skip
RESOURCE_KEYS = ("description", "endpoints")


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(f"`{c}`" for c in close) + "?"
    return "known: " + ", ".join(f"`{k}`" for k in known[:12]) + (" ..." if len(known) > 12 else "")


class _Merge:
    def __init__(self, overlay: Loaded, merged: Loaded, operations: list[Operation]) -> None:
        self.overlay = overlay
        self.merged = merged
        self.m: dict[str, Any] = merged.data
        self.problems: list[Problem] = []
        # Where each operation's endpoint is now: (resource, endpoint id).
        self.at: dict[Operation, tuple[str, str]] = {
            op: (op.resource, op.endpoint) for op in operations
        }
        self.by_key: dict[str, Operation] = {}
        for op in operations:
            self.by_key[op.key] = op
            if op.operation_id:
                self.by_key.setdefault(op.operation_id, op)

    def add(self, path: Key, message: str) -> None:
        self.problems.append(self.overlay.problem(path, message))

    def graft(self, source: Key, target: Key) -> None:
        """The positions of the overlay's ``source`` subtree, as the merged ``target``'s."""
        n = len(source)
        for key, pos in self.overlay.positions.items():
            if key[:n] == source:
                new = (*target, *key[n:])
                self.merged.positions[new] = pos
                self.merged.files[new] = self.overlay.file

    def move(self, old: Key, new: Key) -> None:
        n = len(old)
        positions, files = self.merged.positions, self.merged.files
        for key in [k for k in positions if k[:n] == old]:
            positions[(*new, *key[n:])] = positions.pop(key)
        for key in [k for k in files if k[:n] == old]:
            files[(*new, *key[n:])] = files.pop(key)

    def pin(self, source: Key, target: Key) -> None:
        """The merged key ``target`` is reported at the overlay's ``source``."""
        if source in self.overlay.positions:
            self.merged.positions[target] = self.overlay.positions[source]
            self.merged.files[target] = self.overlay.file

    def operation(self, key: Any, path: Key) -> Operation | None:
        op = self.by_key.get(key) if isinstance(key, str) else None
        if op is None:
            self.add(
                path,
                f"the document has no operation `{key}`: name one by its operationId or as "
                f"`METHOD /path`; {_suggest(str(key), sorted(self.by_key))}",
            )
        return op

    def relocate(self, op: Operation, resource: str, eid: str) -> None:
        old_res, old_id = self.at[op]
        endpoints = self.m["resources"][old_res]["endpoints"]
        ep = endpoints.pop(old_id)
        target = self.m["resources"].setdefault(resource, {"endpoints": {}})
        target.setdefault("endpoints", {})[eid] = ep
        self.move(
            ("resources", old_res, "endpoints", old_id), ("resources", resource, "endpoints", eid)
        )
        self.at[op] = (resource, eid)

    def api(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.add(("api",), "`api` is a mapping of api keys to set over the document's")
            return
        for key, item in value.items():
            self.m["api"][key] = item
            self.graft(("api", key), ("api", key))

    def endpoints(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.add(("endpoints",), "`endpoints` maps an operationId or `METHOD /path` to keys")
            return
        ids = {eid for _, eid in self.at.values()}
        for key, override in value.items():
            path: Key = ("endpoints", key)
            op = self.operation(key, path)
            if op is None:
                continue
            if not isinstance(override, dict):
                self.add(path, "an endpoint override is a mapping (future, retry, pool, ...)")
                continue
            for item in override:
                if item not in ENDPOINT_KEYS:
                    allowed = ", ".join(ENDPOINT_KEYS)
                    self.add(
                        (*path, item),
                        f"unknown endpoint override key `{item}` (allowed: {allowed})",
                    )
            resource, eid = self.at[op]
            if override.get("skip") is True:
                self.m["resources"][resource]["endpoints"].pop(eid)
                del self.at[op]
                continue
            new_id = override.get("name", eid)
            if new_id != eid and new_id in ids:
                self.add(
                    (*path, "name"), f"endpoint `{new_id}` already exists: choose another name"
                )
                new_id = eid
            ids.discard(eid)
            ids.add(new_id)
            self.relocate(op, str(override.get("resource", resource)), str(new_id))
            resource, eid = self.at[op]
            # A name or resource the overlay gave is reported at the overlay's line.
            for item, target in (("name", ("endpoints", eid)), ("resource", ())):
                if item in override:
                    self.pin((*path, item), ("resources", resource, *target))
            ep = self.m["resources"][resource]["endpoints"][eid]
            for item, setting in override.items():
                if item in ENDPOINT_KEYS and item not in ("name", "resource", "skip"):
                    ep[item] = setting
                    self.graft((*path, item), ("resources", resource, "endpoints", eid, item))

    def resources(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.add(
                ("resources",), "`resources` maps a resource name to its description and endpoints"
            )
            return
        for name, spec in value.items():
            path: Key = ("resources", name)
            if not isinstance(spec, dict):
                self.add(path, "a resource is `{description: ..., endpoints: [operation, ...]}`")
                continue
            for item in spec:
                if item not in RESOURCE_KEYS:
                    self.add(
                        (*path, item),
                        f"unknown resource key `{item}` (allowed: description, endpoints)",
                    )
            listed = spec.get("endpoints")
            self.pin(path, path)
            if listed is None and name not in self.m["resources"]:
                self.add(
                    path,
                    f"the document has no resource `{name}`: list its `endpoints` (operationIds or "
                    f"`METHOD /path`) to make one; {_suggest(str(name), sorted(self.m['resources']))}",
                )
                continue
            if listed is not None and not isinstance(listed, list):
                self.add(
                    (*path, "endpoints"), "`endpoints` is a list of operationIds or `METHOD /path`"
                )
                listed = []
            for i, key in enumerate(listed or []):
                op = self.operation(key, (*path, "endpoints", i))
                if op is not None and op in self.at:
                    self.relocate(op, name, self.at[op][1])
            if "description" in spec:
                self.m["resources"].setdefault(name, {"endpoints": {}})["description"] = spec[
                    "description"
                ]
                self.graft((*path, "description"), (*path, "description"))

    def schemas(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.add(("schemas",), "`schemas` maps new schema names to JSON Schemas")
            return
        for name, schema in value.items():
            if name in self.m["schemas"]:
                self.add(
                    ("schemas", name),
                    f"the document already has schema `{name}`: change it under "
                    "`schema_overrides`, or give the new schema another name",
                )
                continue
            self.m["schemas"][name] = schema
            self.graft(("schemas", name), ("schemas", name))

    def schema_overrides(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.add(("schema_overrides",), "`schema_overrides` maps a document schema to keys")
            return
        known = sorted(self.m["schemas"])
        for name, patch in value.items():
            path: Key = ("schema_overrides", name)
            target = self.m["schemas"].get(name)
            if target is None:
                self.add(path, f"the document has no schema `{name}`; {_suggest(str(name), known)}")
                continue
            if not isinstance(patch, dict):
                self.add(path, "a schema override is a mapping of schema keys")
                continue
            for key, setting in patch.items():
                if key == "properties" and isinstance(setting, dict):
                    props = target.setdefault("properties", {})
                    for prop, sub in setting.items():
                        if prop not in props:
                            self.add(
                                (*path, "properties", prop),
                                f"schema `{name}` has no property `{prop}` in the document; "
                                f"{_suggest(str(prop), sorted(props))}",
                            )
                            continue
                        props[prop] = sub
                        self.graft((*path, key, prop), ("schemas", name, key, prop))
                    continue
                target[key] = setting
                self.graft((*path, key), ("schemas", name, key))

    def run(self, data: dict[str, Any]) -> None:
        for key in data:
            if key not in OVERLAY_KEYS:
                self.add(
                    (key,),
                    f"unknown overlay key `{key}` (an overlay may carry: {', '.join(OVERLAY_KEYS)})",
                )
        if "manifest_version" in data:
            self.m["manifest_version"] = data["manifest_version"]
            self.graft(("manifest_version",), ("manifest_version",))
        for key in ("api", "endpoints", "resources", "schemas", "schema_overrides"):
            if key in data:
                getattr(self, key)(data[key])
        for name in [n for n, r in self.m["resources"].items() if not r.get("endpoints")]:
            del self.m["resources"][name]


def merge_overlay(overlay: Loaded) -> Loaded:
    """The manifest data of ``overlay`` merged over its OpenAPI document's, with positions in
    both files."""
    ref = overlay.data.get("openapi")
    if not isinstance(ref, str) or not ref:
        raise ManifestError(
            [
                overlay.problem(
                    ("openapi",),
                    "`openapi` is the path of an OpenAPI document, relative to this file",
                )
            ]
        )
    doc_path = Path(overlay.file).parent / ref
    if not doc_path.is_file():
        raise ManifestError(
            [
                overlay.problem(
                    ("openapi",),
                    f"no OpenAPI document at {doc_path}: fix the path (relative to this file)",
                )
            ]
        )
    translation = translate_document(read_document(doc_path))
    merged = translation.loaded
    merged.file = overlay.file
    merge = _Merge(overlay, merged, translation.operations)
    merge.run(overlay.data)
    if merge.problems:
        raise ManifestError(merge.problems)
    return merged


def _is_document(data: Any) -> bool:
    return isinstance(data, dict) and "info" in data and "paths" in data


def load_manifest(path: Path) -> Loaded:
    """A manifest from ``path``: a plain manifest, an overlay naming an OpenAPI document
    (``openapi: file``), or an OpenAPI document itself (JSON or YAML); with every key's file and
    position for the checks' messages."""
    if path.suffix.lower() == ".json":
        return translate_document(read_document(path)).loaded
    loaded = load_yaml(path)
    if _is_document(loaded.data):
        return translate_document(loaded).loaded
    if isinstance(loaded.data, dict) and "openapi" in loaded.data:
        return merge_overlay(loaded)
    return loaded
