"""tinkex in its two wire modes, with the keywords passed only where this tinkex accepts them.

``tinkex-pb`` wants ``ServiceClient(wire="protobuf")`` with tinkex's own choice of transport
(``"auto"``: pyqwest for the pools the manifest leaves to it, httpx for the training pool) and
``tinkex-json`` ``ServiceClient(wire="json")`` on httpx. ``probe()`` reads
``inspect.signature(tinkex.ServiceClient)`` (and its docstrings, for options documented as
``**kwargs``):

* ``wire``: a parameter of that name, or ``wire=`` in the docs;
* the transport: a parameter whose annotation (resolved: an alias counts) or default names
  ``pyqwest`` (today ``http_backend: HTTPBackend``, an alias of
  ``Literal["httpx", "pyqwest", "auto"]``), or a parameter named in ``BENCH_TINKEX_TRANSPORT_KW``
  (taking ``"pyqwest"`` / ``"httpx"``).

A mode whose wire keyword this tinkex lacks is reported "n/a (not supported by this tinkex)",
except that a tinkex without any ``wire`` keyword still runs as ``tinkex-json``, since JSON is then
its only wire (the stub's count of forward_backward encodings, a row of the table, shows what was
sent). A missing transport keyword leaves the transport to tinkex (noted in the table).
"""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import sys
import typing
from typing import Any

WIRE = {"tinkex-pb": "protobuf", "tinkex-json": "json"}
TRANSPORT = {"tinkex-pb": "auto", "tinkex-json": "httpx"}
TRANSPORT_NAMES = ("transport", "http_transport", "transport_kind", "http_backend", "backend")


def _docs(cls: Any) -> str:
    return "\n".join(filter(None, [inspect.getdoc(cls), inspect.getdoc(cls.__init__)]))


def _annotation_text(cls: Any, name: str, param: inspect.Parameter) -> str:
    text = str(param.annotation) + " " + repr(param.default)
    # Resolved where it can be (an alias such as ``HTTPBackend = Literal["httpx", "pyqwest"]``),
    # one parameter at a time: one unresolvable annotation must not hide the others.
    if isinstance(param.annotation, str):
        namespace = vars(sys.modules[cls.__module__])
        with contextlib.suppress(Exception):
            text += " " + str(eval(param.annotation, dict(namespace)))
    with contextlib.suppress(Exception):
        text += " " + str(typing.get_type_hints(cls.__init__).get(name, ""))
    return text


def probe() -> dict[str, Any]:
    """What this tinkex's ServiceClient accepts: ``{"wire": bool, "transport_kw": str|None}``."""
    import tinkex

    cls = tinkex.ServiceClient
    params = inspect.signature(cls).parameters
    docs = _docs(cls)
    wire = "wire" in params or bool(re.search(r"\bwire\s*=|``wire``", docs))
    transport_kw = os.environ.get("BENCH_TINKEX_TRANSPORT_KW") or None
    if transport_kw is None:
        for name, param in params.items():
            if "pyqwest" in _annotation_text(cls, name, param):
                transport_kw = name
                break
    if transport_kw is None:
        match = re.search(r"\b(\w+)\s*=\s*[\"']pyqwest[\"']", docs)
        if match and (match.group(1) in params or match.group(1) in TRANSPORT_NAMES):
            transport_kw = match.group(1)
    return {
        "wire": wire,
        "transport_kw": transport_kw,
        "version": getattr(tinkex, "__version__", None),
    }


def options(name: str, support: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The ServiceClient keywords of a mode (None: the mode cannot run) and notes on it."""
    kwargs: dict[str, Any] = {}
    notes: list[str] = []
    if support["wire"]:
        kwargs["wire"] = WIRE[name]
    elif name == "tinkex-pb":
        return None, ["n/a (not supported by this tinkex): no wire= keyword"]
    else:
        notes.append("no wire= keyword in this tinkex: ran with its default (JSON) wire")
    if support["transport_kw"]:
        kwargs[support["transport_kw"]] = TRANSPORT[name]
    else:
        notes.append(
            "no transport keyword in this tinkex: transport left to tinkex, "
            f"not forced to {TRANSPORT[name]}"
        )
    return kwargs, notes
