"""Metrics a client keeps about its own calls: counts, errors, retries and latency per
endpoint, and how long requests waited in paused queues. A telemetry listener; cheap per event.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ._telemetry import Event

__all__ = ["EndpointMetrics", "Metrics"]

_LATENCY_WINDOW = 2048


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class EndpointMetrics:
    """What one endpoint's calls did. Latencies are of the last calls that succeeded."""

    calls: int = 0
    errors: int = 0
    retries: int = 0
    attempts: int = 0
    paused_seconds: float = 0.0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_WINDOW))

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile of recent latencies, in seconds (``None`` before any call)."""
        return _percentile(list(self.latencies), q)

    def summary(self) -> dict[str, float | int | None]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "retries": self.retries,
            "attempts": self.attempts,
            "p50": self.percentile(50),
            "p90": self.percentile(90),
            "p99": self.percentile(99),
            "paused_seconds": round(self.paused_seconds, 3),
        }


class Metrics:
    """A listener that aggregates request events by endpoint.

    Example::

        metrics = Metrics()
        client = MyAPI(listeners=[metrics])
        ...
        print(metrics.summary()["get_item"]["p99"])
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_endpoint: dict[str, EndpointMetrics] = {}
        self._paused: dict[tuple[str, str], float] = {}
        self._circuits: dict[str, dict[str, str | int]] = {}

    def _of(self, endpoint: str) -> EndpointMetrics:
        stats = self._by_endpoint.get(endpoint)
        if stats is None:
            stats = self._by_endpoint[endpoint] = EndpointMetrics()
        return stats

    def __call__(self, event: Event) -> None:
        with self._lock:
            if event.kind == "circuit_state":
                self._circuit(event.circuit or "", (event.detail or "").partition(":")[0])
                return
            stats = self._of(event.endpoint)
            if event.kind == "request_start":
                stats.attempts += 1
            elif event.kind == "request_end":
                stats.calls += 1
                stats.latencies.append(event.elapsed)
            elif event.kind == "request_error":
                stats.calls += 1
                stats.errors += 1
            elif event.kind == "retry":
                stats.retries += 1
            elif event.kind == "queue_state" and event.request_id:
                self._queue_state(stats, (event.endpoint, event.request_id), event.detail or "")

    def _queue_state(self, stats: EndpointMetrics, key: tuple[str, str], state: str) -> None:
        now = time.monotonic()
        started = self._paused.pop(key, None)
        if started is not None:
            stats.paused_seconds += now - started
        if state.startswith("paused"):
            self._paused[key] = now

    def _circuit(self, name: str, state: str) -> None:
        seen = self._circuits.setdefault(name, {"state": "closed", "opened": 0})
        seen["state"] = state
        if state == "open":
            seen["opened"] = int(seen["opened"]) + 1

    def circuits(self) -> dict[str, dict[str, str | int]]:
        """Every circuit breaker that changed state: its last state and how often it opened.

        Example::

            metrics.circuits()  # {"storage": {"state": "open", "opened": 2}}
        """
        with self._lock:
            return {name: dict(seen) for name, seen in sorted(self._circuits.items())}

    def endpoint(self, endpoint: str) -> EndpointMetrics:
        """The metrics of one endpoint (zeros when it was never called)."""
        with self._lock:
            return self._of(endpoint)

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        """Every endpoint called so far: counts, latency percentiles (s), paused time (s)."""
        with self._lock:
            now = time.monotonic()
            out = {name: stats.summary() for name, stats in sorted(self._by_endpoint.items())}
            for (name, _), started in self._paused.items():  # still paused: count so far
                paused = out[name]["paused_seconds"] or 0.0
                out[name]["paused_seconds"] = round(float(paused) + now - started, 3)
            return out
