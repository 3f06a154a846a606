"""OpenAPI security schemes as the manifest's credentials (``api.auth``).

apiKey in a header -> ``raw``; apiKey in the query -> ``query``; http bearer, oauth2 and
openIdConnect -> ``bearer`` (the caller supplies the access token); http basic -> ``basic``.
Each reads its value from ``<API>_<SCHEME>`` (upper case). A scheme the manifest cannot send
(an apiKey cookie, another http scheme) or a second credential in the same header is left
out with a note.
"""

from __future__ import annotations

from typing import Any

from .context import Context
from .names import snake

__all__ = ["translate_security"]


def _used(doc: dict[str, Any]) -> list[str]:
    """The schemes the document's ``security`` requirements name, top-level and per operation."""
    names: list[str] = []
    requirements = list(doc.get("security") or [])
    for item in (doc.get("paths") or {}).values():
        for op in item.values() if isinstance(item, dict) else ():
            if isinstance(op, dict):
                requirements += list(op.get("security") or [])
    for req in requirements:
        for name in req if isinstance(req, dict) else ():
            if name not in names:
                names.append(name)
    return names


def translate_security(ctx: Context, api_name: str) -> list[dict[str, Any]]:
    """The credentials of the document's security schemes (those its requirements use, or
    all of them when none is required anywhere), in the order the document lists them."""
    components = ctx.doc.data.get("components") or {}
    schemes = components.get("securitySchemes") if isinstance(components, dict) else None
    if not isinstance(schemes, dict):
        return []
    used = _used(ctx.doc.data) or list(schemes)
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    for key in [k for k in schemes if k in used]:
        src = ("components", "securitySchemes", key)
        scheme = schemes[key] if isinstance(schemes[key], dict) else {}
        env = f"{api_name}_{snake(key)}".upper()
        kind, where = scheme.get("type"), scheme.get("in")
        http = str(scheme.get("scheme", "")).lower()
        cred: dict[str, Any]
        if kind == "apiKey" and where == "header" and isinstance(scheme.get("name"), str):
            cred = {"header": scheme["name"], "env": env}
        elif kind == "apiKey" and where == "query" and isinstance(scheme.get("name"), str):
            cred = {"scheme": "query", "query": scheme["name"], "env": env}
        elif (kind == "http" and http == "bearer") or kind in ("oauth2", "openIdConnect"):
            cred = {"scheme": "bearer", "header": "Authorization", "env": env}
            if kind != "http":
                ctx.note(src, f"{kind}: the SDK sends a token you obtain (as Bearer), not the flow")
        elif kind == "http" and http == "basic":
            cred = {"scheme": "basic", "env": f"{env}_USER", "password_env": f"{env}_PASSWORD"}
        else:
            ctx.note(src, f"security scheme `{key}` left out: the manifest cannot send it")
            continue
        slot = str(cred.get("header") or "").lower() or f"?{cred.get('query')}"
        if cred.get("scheme") == "basic":
            slot = "authorization"
        if slot in taken:
            ctx.note(src, f"security scheme `{key}` left out: another one uses the same place")
            continue
        taken.add(slot)
        ctx.mark(("api", "auth"), src)
        out.append(cred)
    return out
