"""Faults the fake Tinker server can inject, one per matching request.

Build them with the functions below and arm them with ``FakeTinker.inject(endpoint, fault,
times=N)``. Whether the request is *applied* (its state change happens) is part of each
fault's contract; ``Fault.applies`` tells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "MAX_SLEEP",
    "Fault",
    "FaultKind",
    "bad_schema",
    "delay",
    "drop_after",
    "drop_before",
    "fail",
    "malformed_json",
    "status",
    "truncate_after",
]

#: Every sleep the fake server does (fault delays, latency) is capped at this many seconds.
MAX_SLEEP = 30.0

FaultKind = Literal[
    "status",
    "drop_before",
    "drop_after",
    "truncate_after",
    "delay",
    "malformed_json",
    "bad_schema",
    "fail",
]

# Kinds whose request is processed (applied) before the reply is damaged.
_APPLYING: frozenset[str] = frozenset(
    {"drop_after", "truncate_after", "malformed_json", "bad_schema"}
)


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour. Prefer the constructor functions of this module."""

    kind: FaultKind
    status_code: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    seconds: float = 0.0
    apply: bool = True
    message: str = ""
    category: str = "server"

    @property
    def applies(self) -> bool:
        """True when the request's state change happens despite the fault."""
        if self.kind == "delay":
            return self.apply
        return self.kind in _APPLYING


def status(code: int, *, headers: Mapping[str, str] | None = None, body: Any = None) -> Fault:
    """Reply ``code`` (e.g. 429 with ``retry-after``, 5xx, 408, 410, 400, 402) BEFORE processing.

    The request is not applied. ``body`` may be a JSON-able value, ``str`` or ``bytes``; by
    default ``{"detail": "injected fault: HTTP <code>"}``.
    """
    if not 100 <= code <= 599:
        raise ValueError(f"not an HTTP status code: {code}")
    return Fault("status", status_code=code, headers=dict(headers or {}), body=body)


def drop_before() -> Fault:
    """Read the request, then close the connection without replying. Not applied."""
    return Fault("drop_before")


def drop_after() -> Fault:
    """Apply the request, then close the connection without any reply (the ambiguous case)."""
    return Fault("drop_after")


def truncate_after() -> Fault:
    """Apply the request, send headers whose Content-Length exceeds the bytes sent, cut the
    body mid-way and close the connection."""
    return Fault("truncate_after")


def delay(seconds: float, *, apply: bool = True) -> Fault:
    """Stall the reply by ``seconds`` (capped at ``MAX_SLEEP``; ``stop()`` interrupts it).

    ``apply=True``: the request is applied at once, the normal reply is sent after the delay
    (so a client that timed out has had its request applied). ``apply=False``: the server
    sleeps, then closes the connection without applying or replying.
    """
    if seconds < 0:
        raise ValueError("delay must be >= 0")
    return Fault("delay", seconds=min(float(seconds), MAX_SLEEP), apply=apply)


def malformed_json() -> Fault:
    """Apply the request, then reply 200 with a body that is not JSON."""
    return Fault("malformed_json")


def bad_schema() -> Fault:
    """Apply the request, then reply 200 with JSON that violates the response schema
    (required fields removed; when there are none, values of the wrong type)."""
    return Fault("bad_schema")


def fail(message: str = "injected failure", *, category: str = "server") -> Fault:
    """A future that completes failed: on a future-returning endpoint the request is accepted
    (a request id is returned) but not applied and its future resolves to
    ``{"error": message, "category": category}``; on ``retrieve_future`` that one poll replies
    with the error. Elsewhere it is a plain HTTP 500."""
    if category not in ("unknown", "server", "user"):
        raise ValueError(f"bad category: {category}")
    return Fault("fail", message=message, category=category)
