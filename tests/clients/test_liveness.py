"""A dead server fails a wait fast; a busy one may keep it waiting.

The fake server (a real HTTP server on 127.0.0.1) holds a training or sampling future ("try
again"), then is stopped mid-wait: the wait must end with ``ServerUnreachableError`` (an
``APIConnectionError``) within a bound derived from a small ``unreachable_timeout`` (or from
``max_retries``), not after the hour-long result timeout. A server that keeps answering "not
yet" is not dead: the wait goes on past that budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest
from sdkgen.runtime import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigError,
    ServerUnreachableError,
)
from sdkgen.runtime._liveness import Reachability, is_unreachable

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum, wait_for
from tests.fake_tinker import FakeTinker
from tinkex import types

HELD = 10**9  # try_agains: the fake never completes the future on its own
BUDGET = 2.0
# Generous: the budget, plus a backoff, a connect attempt and a loaded machine's slowness.
BOUND = 30.0
# Long enough that a wait which ignores the budget shows as a FutureTimeoutError instead.
RESULT_TIMEOUT = 45.0
PROMPT = types.ModelInput.from_ints([1, 2, 3])
PARAMS = types.SamplingParams(max_tokens=2)

Start = Callable[[], "tinker.APIFuture[object]"]


def _polls(server: FakeTinker, endpoint: str) -> int:
    return sum(f.polls for f in server.futures.values() if f.endpoint == endpoint)


def _stop_mid_wait(server: FakeTinker, future: tinker.APIFuture[object], endpoint: str) -> None:
    """Stop the server once the future is being polled (the wait is under way)."""
    assert wait_for(lambda: _polls(server, endpoint) >= 2), "the future was never polled"
    assert not future.done()
    server.stop()


def _fails_fast(
    future: tinker.APIFuture[object], service: tinker.ServiceClient
) -> ServerUnreachableError:
    start = time.monotonic()
    try:
        with pytest.raises(APIConnectionError) as info:
            future.result(timeout=RESULT_TIMEOUT)
        elapsed = time.monotonic() - start
    finally:
        # The server is gone: do not spend seconds trying to finish the session with it.
        service.holder.close(status=None)
    assert isinstance(info.value, ServerUnreachableError), repr(info.value)
    assert elapsed < BOUND, f"took {elapsed:.1f}s"
    return info.value


def test_training_wait_on_a_dead_server_fails_within_the_budget(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server, unreachable_timeout=BUDGET, result_timeout=RESULT_TIMEOUT)
    training = service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)
    server.try_agains_by_endpoint["forward_backward"] = HELD
    future = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    _stop_mid_wait(server, future, "forward_backward")
    err = _fails_fast(future, service)
    assert "could not be reached" in str(err)
    assert f"unreachable_timeout={BUDGET:g}s" in str(err)
    assert err.request_id  # names the request, whose result may be fetched later


@pytest.mark.parametrize("session_poll", [False, True], ids=["own-future", "retrieve-futures"])
def test_sampling_wait_on_a_dead_server_fails_within_the_budget(
    session_poll: bool, server: FakeTinker, make_service: ServiceFactory
) -> None:
    if session_poll:  # samples wait on the session-wide long poll
        server.client_config = True
        server.config_flags = {"sample_use_retrieve_futures": True}
        server.futures_long_poll = 1.0
        server.futures_hold = True
    service = make_service(server, unreachable_timeout=BUDGET, result_timeout=RESULT_TIMEOUT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    server.try_agains_by_endpoint["asample"] = HELD
    future = sampler.sample(PROMPT, 1, PARAMS)
    if session_poll:
        assert wait_for(lambda: len(server.requests_to("retrieve_futures")) >= 1)
        server.stop()
    else:
        _stop_mid_wait(server, future, "asample")
    err = _fails_fast(future, service)
    assert "could not be reached" in str(err)


def test_max_retries_bounds_a_wait_on_a_dead_server(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    # The default budget (60 s) is not reached: three failures in a row end it (max_retries=2).
    service = make_service(server, max_retries=2, timeout=5, result_timeout=RESULT_TIMEOUT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    server.try_agains_by_endpoint["asample"] = HELD
    future = sampler.sample(PROMPT, 1, PARAMS)
    _stop_mid_wait(server, future, "asample")
    err = _fails_fast(future, service)
    assert "max_retries=2" in str(err)


def test_a_busy_server_keeps_a_wait_going_past_the_budget(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server, unreachable_timeout=0.2, result_timeout=RESULT_TIMEOUT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL)
    server.try_agains_by_endpoint["asample"] = HELD
    future = sampler.sample(PROMPT, 1, PARAMS)
    # The server answers "try again" on every poll: not dead, however long it takes.
    with pytest.raises(tinker.FutureTimeoutError):
        future.result(timeout=1.0)
    assert wait_for(lambda: _polls(server, "asample") >= 2)  # it answered, and was asked again
    server.try_agains_by_endpoint.pop("asample")
    for record in server.futures.values():
        record.try_agains = 0
    assert len(future.result(timeout=WAIT).sequences) == 1


def test_unreachable_timeout_must_be_positive(server: FakeTinker) -> None:
    for bad in (0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="unreachable_timeout"):
            tinker.ServiceClient(base_url=server.base_url, unreachable_timeout=bad)


# -- the budget itself, on a fake clock ----------------------------------------------------------


def _connection_error(cause: Exception) -> APIConnectionError:
    err = (APITimeoutError if isinstance(cause, httpx.TimeoutException) else APIConnectionError)(
        f"{type(cause).__name__}: {cause}", endpoint="poll"
    )
    err.__cause__ = cause
    return err


REFUSED = _connection_error(httpx.ConnectError("refused"))
READ_TIMEOUT = _connection_error(httpx.ReadTimeout("no answer yet"))


def test_what_counts_as_unreachable() -> None:
    assert is_unreachable(REFUSED)
    assert is_unreachable(_connection_error(httpx.ConnectTimeout("connect")))
    assert is_unreachable(_connection_error(httpx.ReadError("connection reset")))
    assert is_unreachable(_connection_error(httpx.RemoteProtocolError("disconnected")))
    # A long poll held open by a busy server, and any answer at all, are not.
    assert not is_unreachable(READ_TIMEOUT)
    answer = APIStatusError("busy", response=httpx.Response(503))
    assert not is_unreachable(answer)


def test_the_budget_counts_time_since_the_first_failure_and_resets_on_an_answer() -> None:
    now = [0.0]
    reach = Reachability(10.0, clock=lambda: now[0])
    reach.failed(REFUSED, what="x")
    now[0] = 9.0
    reach.failed(REFUSED, what="x")
    assert reach.remaining() == pytest.approx(1.0)
    reach.failed(READ_TIMEOUT, what="x")  # not counted
    reach.answered()
    assert reach.remaining() is None
    now[0] = 15.0
    reach.failed(REFUSED, what="x")  # a new run of failures starts here
    now[0] = 24.9
    reach.failed(REFUSED, what="x")
    now[0] = 25.0
    with pytest.raises(ServerUnreachableError, match="unreachable_timeout=10s") as info:
        reach.failed(REFUSED, what="request r-1")
    assert info.value.__cause__ is REFUSED
    assert "request r-1" in str(info.value)


def test_max_failures_counts_failures_in_a_row() -> None:
    reach = Reachability(3600.0, max_failures=2, clock=lambda: 0.0)
    reach.failed(REFUSED, what="x")
    reach.failed(REFUSED, what="x")
    with pytest.raises(ServerUnreachableError, match="max_retries=2"):
        reach.failed(REFUSED, what="x")
