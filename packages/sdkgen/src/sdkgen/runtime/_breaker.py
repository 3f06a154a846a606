"""Circuit breakers: after a run of failed attempts on a group of endpoints, fail fast for a while
instead of sending more requests to a server that is not coping, then let a few trials through.

A breaker belongs to one client and one named group of endpoints (the manifest's
``api.circuit_breakers``; an endpoint joins one with ``breaker: <name>``). Its states:

    closed      every attempt goes out; ``failure_threshold`` failures in a row open it
    open        every attempt fails at once with ``CircuitOpenError`` (no request is sent),
                until ``reset_timeout`` seconds have passed since it opened
    half_open   up to ``half_open_trials`` attempts go out as trials; when that many succeed
                it closes, when one fails it opens again for another ``reset_timeout``

A failure is an attempt that got no usable answer (connection refused or lost, timed out) or
one whose status is in the policy's ``failure_statuses`` (server errors by default); any other
answer, a 404 say, shows that the server is there and counts as a success. A trial that never
reports (its caller was cancelled) frees its place after ``reset_timeout``, so a breaker cannot
stay half-open for ever.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

from ._errors import CircuitOpenError
from ._spec import CircuitBreakerPolicy, status_matches

__all__ = ["CircuitBreaker", "CircuitState"]

CircuitState = Literal["closed", "open", "half_open"]


ChangeHook = Callable[["CircuitBreaker", CircuitState, str], None]


class CircuitBreaker:
    """One named breaker's state, shared by the calls of one client (thread-safe).

    Example::

        breaker = api.circuit_breakers["storage"]
        if breaker.state == "open":
            print(f"storage is failing; next trial in {breaker.retry_in():.0f} s")
    """

    def __init__(
        self,
        name: str,
        policy: CircuitBreakerPolicy,
        *,
        on_change: ChangeHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.policy = policy
        self._on_change = on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._state: CircuitState = "closed"
        self._failures = 0  # in a row, while closed
        self._opened_at = 0.0
        self._trials: list[float] = []  # start times of the trials in flight (half-open)
        self._trial_successes = 0
        self._last_cause = ""
        # State changes made under the lock, told to on_change after it is released (a
        # listener may read the breaker).
        self._changes: list[tuple[CircuitState, str]] = []

    @property
    def state(self) -> CircuitState:
        """``closed``, ``open`` or ``half_open``, as of now (an open breaker whose reset
        timeout has passed reads ``half_open``: the next attempt is a trial)."""
        with self._lock:
            if self._state == "open" and self._wait(self._clock()) <= 0:
                return "half_open"
            return self._state

    @property
    def failures(self) -> int:
        """Failed attempts in a row while closed (the count that opens the breaker)."""
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open breaker lets a trial through (0 when it is not open)."""
        with self._lock:
            return max(self._wait(self._clock()), 0.0) if self._state == "open" else 0.0

    def admit(self, endpoint: str, method: str, path: str) -> None:
        """Let an attempt go out, or raise ``CircuitOpenError`` without sending it.

        Args:
            endpoint: The endpoint's id, method and path, for the error's message.
            method: The HTTP method.
            path: The rendered path.
        """
        if self._state == "closed":  # the common case, without the lock (a read of one name)
            return
        try:
            with self._lock:
                self._admit(endpoint, method, path)
        finally:
            self._notify()

    def succeeded(self) -> None:
        """An attempt got an answer that shows the server copes."""
        if self._state == "closed" and self._failures == 0:
            return
        with self._lock:
            if self._state == "closed":
                self._failures = 0
            elif self._state == "half_open" and self._trials:
                self._trials.pop(0)
                self._trial_successes += 1
                if self._trial_successes >= self.policy.half_open_trials:
                    self._change("closed", f"{self._trial_successes} trial(s) succeeded")
            # else: an attempt admitted before the breaker opened; it was not a trial.
        self._notify()

    def failed(self, cause: str) -> None:
        """An attempt failed in a way that counts against the server (see the module doc).

        Args:
            cause: What went wrong, for the open error's message and the telemetry event.
        """
        with self._lock:
            self._last_cause = cause
            if self._state == "closed":
                self._failures += 1
                if self._failures >= self.policy.failure_threshold:
                    self._open(f"{self._failures} failures in a row (last: {cause})")
            elif self._state == "half_open" and self._trials:
                self._open(f"a trial failed ({cause})")
        self._notify()

    def counts_status(self, status: int) -> bool:
        """Whether an answer with this status counts as a failure."""
        return status_matches(status, self.policy.failure_statuses)

    # -- under the lock ---------------------------------------------------------------------

    def _wait(self, now: float) -> float:
        return self._opened_at + self.policy.reset_timeout - now

    def _admit(self, endpoint: str, method: str, path: str) -> None:
        now = self._clock()
        if self._state == "open":
            wait = self._wait(now)
            if wait > 0:
                raise self._open_error(endpoint, method, path, wait)
            self._change("half_open", "reset timeout passed")
        if self._state == "closed":
            return
        # Half-open: a trial slot held longer than reset_timeout was abandoned; free it.
        self._trials = [t for t in self._trials if now - t < self.policy.reset_timeout]
        if len(self._trials) + self._trial_successes >= self.policy.half_open_trials:
            raise self._open_error(endpoint, method, path, 0.0)
        self._trials.append(now)

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock()
        self._trials.clear()
        self._trial_successes = 0
        self._change("open", reason)

    def _change(self, state: CircuitState, reason: str) -> None:
        self._state = state
        if state == "closed":
            self._failures = 0
            self._trials.clear()
            self._trial_successes = 0
        self._changes.append((state, reason))

    def _notify(self) -> None:
        if not self._changes:
            return
        with self._lock:
            changes, self._changes = self._changes, []
        if self._on_change is not None:
            for state, reason in changes:
                self._on_change(self, state, reason)

    def _open_error(self, endpoint: str, method: str, path: str, wait: float) -> CircuitOpenError:
        when = (
            f"it lets a trial call through in {wait:.1f} s"
            if wait > 0
            else "its trial calls are in flight; try again shortly"
        )
        return CircuitOpenError(
            f"circuit breaker {self.name!r} is open (last failure: "
            f"{self._last_cause or 'unknown'}); nothing was sent; {when}",
            circuit=self.name,
            retry_in=max(wait, 0.0),
            endpoint=endpoint,
            method=method,
            path=path,
        )

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self.state!r})"
