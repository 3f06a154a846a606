"""A client its server has never answered gives up on failures to reach it after the retry
policy's ``first_contact_deadline``, with one line naming the URL, why and what to check; once
the server has answered, the policy's own budgets apply (a restart is ridden out)."""

from __future__ import annotations

import dataclasses
import socket
import time

import httpx
import pytest
from sdkgen.runtime import APIConnectionError, ServerUnreachableError
from sdkgen.runtime._liveness import unreachable_reason

from ._support import API_SPEC, ENV_NAMES, FAST, SyncFactory, endpoint, sync_client_class

# Long enough backoff that the budget, not max_retries, decides; waits really happen here.
FIRST_CONTACT = dataclasses.replace(
    FAST, max_retries=20, initial_delay=0.2, max_delay=0.2, jitter=0.0, first_contact_deadline=1.0
)
SPEC = dataclasses.replace(
    API_SPEC, retry_policies={**API_SPEC.retry_policies, "default": FIRST_CONTACT}
)
Client = sync_client_class(SPEC)
GENEROUS = 30.0  # seconds: a bound that only a ~60 s retry loop would pass


def _closed_port() -> int:
    with socket.socket() as probe:  # bound, then closed: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_closed_port_fails_fast_and_says_refused(make_client: SyncFactory) -> None:
    base_url = f"http://127.0.0.1:{_closed_port()}"
    api = make_client(Client, base_url=base_url)
    started = time.monotonic()
    with pytest.raises(ServerUnreachableError) as caught:
        api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert time.monotonic() - started < GENEROUS
    text = str(caught.value)
    assert base_url in text
    assert "connection refused" in text
    assert f"${ENV_NAMES['base_url']}" in text  # what to check, and where it is set
    assert "first_contact_deadline=1s" in text
    assert 1 < caught.value.attempts < 21  # retried a little, not max_retries times
    assert isinstance(caught.value, APIConnectionError)  # as before, for except clauses


def test_an_unresolvable_host_fails_fast_and_says_dns(make_client: SyncFactory) -> None:
    # ".invalid" never resolves (RFC 2606); the resolver says so without the network.
    api = make_client(Client, base_url="http://sdkgen-first-contact.invalid:8000")
    started = time.monotonic()
    with pytest.raises(ServerUnreachableError) as caught:
        api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert time.monotonic() - started < GENEROUS
    assert "does not resolve (DNS)" in str(caught.value)
    assert "sdkgen-first-contact.invalid" in str(caught.value)


def test_a_server_that_answered_once_gets_the_full_budget(make_client: SyncFactory) -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            return httpx.Response(200, json={"ok": True})
        raise httpx.ConnectError("connection refused", request=request)  # the server went away

    policy = dataclasses.replace(FIRST_CONTACT, max_retries=3, first_contact_deadline=0.01)
    spec = dataclasses.replace(API_SPEC, retry_policies={"default": policy})
    api = make_client(sync_client_class(spec), transport=httpx.MockTransport(handler))
    api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert api.server_answered
    with pytest.raises(APIConnectionError) as caught:
        api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert not isinstance(caught.value, ServerUnreachableError)
    assert caught.value.attempts == 4  # max_retries + 1: the first-contact budget is not used


def test_an_error_status_counts_as_an_answer(make_client: SyncFactory) -> None:
    api = make_client(
        Client, transport=httpx.MockTransport(lambda request: httpx.Response(404, json={}))
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - any error: only the flag matters
        api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert api.server_answered


def test_a_policy_without_the_budget_retries_as_before(make_client: SyncFactory) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    policy = dataclasses.replace(FAST, max_retries=2)  # no first_contact_deadline
    spec = dataclasses.replace(API_SPEC, retry_policies={"default": policy})
    api = make_client(sync_client_class(spec), transport=httpx.MockTransport(handler))
    with pytest.raises(APIConnectionError) as caught:
        api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
    assert not isinstance(caught.value, ServerUnreachableError)
    assert caught.value.attempts == 3


async def test_the_async_client_fails_fast_too() -> None:
    from ._support import AsyncTestClient

    client_class = type("FirstContactAsync", (AsyncTestClient,), {"api": SPEC})
    base_url = f"http://127.0.0.1:{_closed_port()}"
    async with client_class(base_url=base_url, api_key="sk-test-key") as api:
        started = time.monotonic()
        with pytest.raises(ServerUnreachableError, match="connection refused"):
            await api.request(endpoint("get_item"), dict, path_params={"item_id": "1"})
        assert time.monotonic() - started < GENEROUS


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (ConnectionRefusedError(111, "Connection refused"), "refused"),
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (OSError("something else"), "other"),
        (ConnectionError("client error (Connect): dns error: failed to lookup address"), "dns"),
        (ConnectionError("tcp connect error: Connection refused (os error 111)"), "refused"),
    ],
)
def test_the_reason_is_read_from_the_chain_of_causes(cause: BaseException, reason: str) -> None:
    err = APIConnectionError("ConnectError: failed")
    err.__cause__ = cause
    assert unreachable_reason(err) == reason
