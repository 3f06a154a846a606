"""Circuit breakers: closed -> open after failures in a row -> half-open trials -> closed, with
an open circuit failing at once (nothing sent), on a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from sdkgen.runtime import (
    CircuitBreaker,
    CircuitBreakerPolicy,
    CircuitOpenError,
    EndpointSpec,
    Event,
    InternalServerError,
    Metrics,
    NotFoundError,
)
from tests.runtime._support import (
    API_SPEC,
    ENDPOINTS,
    FAST,
    AsyncFactory,
    StartHTTPServer,
    SyncFactory,
    async_client_class,
    sync_client_class,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(
    threshold: int = 3, reset: float = 10.0, trials: int = 1
) -> tuple[CircuitBreaker, Clock, list[str]]:
    clock = Clock()
    changes: list[str] = []
    policy = CircuitBreakerPolicy(
        failure_threshold=threshold, reset_timeout=reset, half_open_trials=trials
    )
    made = CircuitBreaker(
        "backend", policy, clock=clock, on_change=lambda b, state, why: changes.append(state)
    )
    return made, clock, changes


def admit(b: CircuitBreaker) -> None:
    b.admit("ping", "POST", "/ping")


# -- the state machine, on a clock of the test's --------------------------------------------


def test_opens_after_threshold_failures_in_a_row_and_fails_fast() -> None:
    b, clock, changes = breaker(threshold=3, reset=10.0)
    for _ in range(2):
        admit(b)
        b.failed("status 503")
    admit(b)
    b.succeeded()  # a success in between starts the count again
    assert b.failures == 0
    for _ in range(3):
        admit(b)
        b.failed("status 503")
    assert b.state == "open"
    assert changes == ["open"]
    clock.now += 4.0
    with pytest.raises(CircuitOpenError) as info:
        admit(b)
    err = info.value
    assert err.circuit == "backend"
    assert err.retry_in == pytest.approx(6.0)
    assert "'backend' is open" in str(err)
    assert "status 503" in str(err)
    assert "nothing was sent" in str(err)
    assert err.endpoint == "ping"
    assert not err.retryable


def test_half_open_trial_success_closes_failure_reopens() -> None:
    b, clock, changes = breaker(threshold=1, reset=10.0, trials=2)
    admit(b)
    b.failed("refused")
    clock.now += 10.0
    assert b.state == "half_open"
    assert b.retry_in() == 0.0
    admit(b)  # trial 1
    admit(b)  # trial 2
    with pytest.raises(CircuitOpenError) as info:
        admit(b)  # a third caller while both trials are out
    assert info.value.retry_in == 0.0
    assert "trial calls are in flight" in str(info.value)
    b.succeeded()
    assert b.state == "half_open"
    b.succeeded()
    assert b.state == "closed"
    assert changes == ["open", "half_open", "closed"]
    # And a trial that fails opens it again, for a whole reset timeout.
    admit(b)
    b.failed("refused")
    clock.now += 10.0
    admit(b)
    b.failed("refused again")
    assert b.state == "open"
    assert b.retry_in() == pytest.approx(10.0)
    assert changes[-3:] == ["open", "half_open", "open"]


def test_an_abandoned_trial_frees_its_place_after_the_reset_timeout() -> None:
    b, clock, _ = breaker(threshold=1, reset=5.0)
    admit(b)
    b.failed("refused")
    clock.now += 5.0
    admit(b)  # this trial's caller is cancelled and never reports
    with pytest.raises(CircuitOpenError):
        admit(b)
    clock.now += 5.0
    admit(b)  # the abandoned slot expired: another trial goes out
    b.succeeded()
    assert b.state == "closed"


def test_which_statuses_count() -> None:
    b, _, _ = breaker()
    assert b.counts_status(503)
    assert b.counts_status(500)
    assert not b.counts_status(404)
    assert not b.counts_status(429)


# -- through a client, on a real server --------------------------------------------------------

POLICY = CircuitBreakerPolicy(failure_threshold=3, reset_timeout=0.3)
NO_RETRY_PING = EndpointSpec(
    id="flaky", method="POST", path="/flaky", body="json", retry="none", breaker="backend"
)
RETRYING_PING = EndpointSpec(
    id="flaky_retrying", method="POST", path="/flaky", body="json", breaker="backend"
)
API = dataclasses.replace(
    API_SPEC,
    circuit_breakers={"backend": POLICY},
    retry_policies={**API_SPEC.retry_policies, "default": dataclasses.replace(FAST, max_retries=8)},
)
ENDPOINTS_B = {**ENDPOINTS, "flaky": NO_RETRY_PING, "flaky_retrying": RETRYING_PING}


class Flaky:
    """A server that answers ``status`` to every POST and counts what reaches it."""

    def __init__(self) -> None:
        self.status = 503
        self.requests = 0
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with state.lock:
                    state.requests += 1
                    status = state.status
                body = b'{"ok": true}' if status < 400 else b'{"error": "no"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def test_sync_client_opens_fails_fast_then_recovers(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    flaky = Flaky()
    server = http_server(flaky.handler())
    events: list[Event] = []
    metrics = Metrics()
    cls = type("BreakerClient", (sync_client_class(API),), {"endpoints": ENDPOINTS_B})
    client = make_client(cls, base_url=server.base_url, listeners=[events.append, metrics])
    for _ in range(3):
        with pytest.raises(InternalServerError):
            client.request(NO_RETRY_PING, dict, body={})
    assert client.circuit_breakers["backend"].state == "open"
    with pytest.raises(CircuitOpenError) as info:
        client.request(NO_RETRY_PING, dict, body={})
    assert flaky.requests == 3  # the fourth call sent nothing
    assert info.value.retry_in > 0
    errors = [e for e in events if e.kind == "request_error"]
    assert errors[-1].error_type == "CircuitOpenError"

    flaky.status = 404  # the server is back (a 404 is an answer: it counts as a success)
    time.sleep(POLICY.reset_timeout + 0.05)
    with pytest.raises(NotFoundError):
        client.request(NO_RETRY_PING, dict, body={})
    assert client.circuit_breakers["backend"].state == "closed"
    states = [e.detail.split(":")[0] for e in events if e.kind == "circuit_state" and e.detail]
    assert states == ["open", "half_open", "closed"]
    assert {e.circuit for e in events if e.kind == "circuit_state"} == {"backend"}
    assert metrics.circuits() == {"backend": {"state": "closed", "opened": 1}}
    assert "" not in metrics.summary()  # circuit events are not an endpoint's


def test_an_open_circuit_ends_a_call_s_retries(
    make_client: SyncFactory, http_server: StartHTTPServer
) -> None:
    flaky = Flaky()
    server = http_server(flaky.handler())
    cls = type("BreakerClient", (sync_client_class(API),), {"endpoints": ENDPOINTS_B})
    client = make_client(cls, base_url=server.base_url)
    with pytest.raises(CircuitOpenError):
        client.request(RETRYING_PING, dict, body={})  # 8 retries allowed, 3 failures open it
    assert flaky.requests == 3


async def test_async_client_counts_refused_connections(make_async_client: AsyncFactory) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cls = type("BreakerClient", (async_client_class(API),), {"endpoints": ENDPOINTS_B})
    client = make_async_client(cls, base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(CircuitOpenError) as info:
        await client.request(RETRYING_PING, dict, body={})
    assert "ConnectError" in str(info.value)
    assert client.circuit_breakers["backend"].state == "open"
