"""The polling contract of futures, compiled once per :class:`FuturesSpec`.

It answers the questions a poll reply raises: is it "not yet", "failed", a metadata-only notice;
what does it say (message, category, queue state, read through dotted field paths); and how long
to wait before the next poll (the server's hint, else the retry policy's exponential backoff from
``poll_interval`` up to ``max_poll_interval``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from ._retry import backoff_delay, retry_after_seconds
from ._spec import FuturesSpec, RetryPolicy

__all__ = ["MISSING", "PollContract", "poll_contract"]

MISSING: Any = object()
# 2.0 ** 1024 overflows a float; any exponent past this is far beyond every cap anyway.
_MAX_EXPONENT = 62


def _path(name: str | None) -> tuple[str, ...] | None:
    return None if not name else tuple(name.split("."))


def lookup(data: Any, path: tuple[str, ...] | None) -> Any:
    """The value at ``path`` in nested mappings, or :data:`MISSING`."""
    if path is None:
        return MISSING
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return MISSING
        data = data[part]
    return data


def _wait_policy(initial: float, cap: float) -> RetryPolicy:
    # The runtime's one backoff (``backoff_delay``), without jitter: the waits are predictable.
    return RetryPolicy(initial_delay=initial, max_delay=cap, jitter=0.0, deadline=None)


class PollContract:
    """What a :class:`FuturesSpec` means for one reply; built by :func:`poll_contract`."""

    __slots__ = (
        "_error_policy",
        "_poll_policy",
        "category",
        "failed",
        "failed_values",
        "markers",
        "message",
        "metadata",
        "pending",
        "pending_values",
        "poll_after",
        "queue_reason",
        "queue_state",
        "spec",
    )

    def __init__(self, spec: FuturesSpec) -> None:
        self.spec = spec
        values = spec.pending_value
        self.pending_values = frozenset((values,) if isinstance(values, str) else values)
        self.failed_values = frozenset(spec.failed_values)
        self.pending = _path(spec.pending_field)
        self.failed = _path(spec.failed_field)
        self.message = _path(spec.message_field)
        self.category = _path(spec.category_field)
        self.queue_state = _path(spec.queue_state_field)
        self.queue_reason = _path(spec.queue_state_reason_field)
        self.metadata = _path(spec.metadata_field)
        self.poll_after = _path(spec.poll_after_field)
        self._poll_policy = _wait_policy(spec.poll_interval, spec.max_poll_interval)
        self._error_policy = _wait_policy(1.0, spec.max_backoff)
        self.markers = self._markers()

    def _markers(self) -> tuple[bytes, ...]:
        """Byte strings of which at least one is in every reply that is not the result itself."""
        words: list[Any] = sorted(self.pending_values)
        if self.failed_values:
            words += sorted(self.failed_values)
        elif self.failed is not None:
            words.append(self.failed[-1])  # the field's own name, as a JSON key
        if self.metadata is not None:
            words.append(self.spec.metadata_value)
        return tuple(json.dumps(w).encode() for w in words)

    def is_pending(self, data: Any) -> bool:
        value = lookup(data, self.pending)
        return isinstance(value, str) and value in self.pending_values

    def is_metadata(self, data: Any) -> bool:
        if self.metadata is None:
            return False
        value = lookup(data, self.metadata)
        return value is not MISSING and bool(value == self.spec.metadata_value)

    def is_failed(self, data: Any) -> bool:
        value = lookup(data, self.failed)
        if value is MISSING:
            return False
        if not self.failed_values:
            return True  # no values named: the field's presence means failed
        return isinstance(value, str) and value in self.failed_values

    def text(self, data: Any, path: tuple[str, ...] | None) -> str | None:
        value = lookup(data, path)
        return value if isinstance(value, str) else None

    def hint(self, headers: httpx.Headers | None, body: Any) -> float | None:
        """The server's "poll again in" on a not-yet reply, in seconds, cut to the cap; or None.

        A body field named by the manifest wins over the header (it is the API's own word).
        """
        spec = self.spec
        wait: float | None = None
        value = lookup(body, self.poll_after)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            wait = value / 1000.0 if spec.poll_after_unit == "ms" else float(value)
        elif spec.retry_after_header and headers is not None:
            wait = retry_after_seconds(headers)
        return None if wait is None else min(wait, spec.poll_after_cap)

    def pending_wait(self, replies: int) -> float:
        """The wait after the ``replies``-th "not yet" reply in a row (0-based)."""
        return backoff_delay(self._poll_policy, min(replies, _MAX_EXPONENT), 0.0)

    def error_wait(self, failures: int) -> float:
        """The wait after the ``failures``-th unreachable or throttled poll in a row (0-based)."""
        return backoff_delay(self._error_policy, min(failures, _MAX_EXPONENT), 0.0)


# id(spec) -> (spec, contract); the spec is kept, so its id is never reused meanwhile.
_CONTRACTS: dict[int, tuple[FuturesSpec, PollContract]] = {}


def poll_contract(spec: FuturesSpec) -> PollContract:
    """The compiled contract of ``spec`` (built once; specs are immutable)."""
    known = _CONTRACTS.get(id(spec))
    if known is not None:
        return known[1]
    contract = PollContract(spec)
    _CONTRACTS[id(spec)] = (spec, contract)
    return contract
