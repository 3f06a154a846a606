"""The session-wide ``retrieve_futures`` long poll, against the fake server with the flag on:
samples wait on it and then fetch once; acknowledgements, cursor, idling, failures, deadlines
and closing."""

from __future__ import annotations

import asyncio
import time

import pytest
from sdkgen.runtime import RequestFailedError, SDKError

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, wait_for
from tests.fake_tinker import FakeTinker, faults
from tinkex import types
from tinkex._sample_results_poller import SampleResultsPollError, SampleResultTimeoutError

PARAMS = types.SamplingParams(max_tokens=2)


def _prompt(*tokens: int) -> types.ModelInput:
    return types.ModelInput.from_ints(list(tokens))


@pytest.fixture
def poll_server(server: FakeTinker) -> FakeTinker:
    server.client_config = True
    server.config_flags = {"sample_use_retrieve_futures": True}
    server.futures_long_poll = 1.0  # a long poll with nothing to report ends after 1 s
    return server


@pytest.fixture
def sampler(poll_server: FakeTinker, make_service: ServiceFactory) -> tinker.SamplingClient:
    service = make_service(poll_server)
    return service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


def _polls(server: FakeTinker) -> list[dict[str, object]]:
    return [r.json for r in server.requests_to("retrieve_futures")]


def _sample_ids(server: FakeTinker) -> set[str]:
    return {f.request_id for f in server.futures.values() if f.endpoint == "asample"}


def test_many_samples_wait_on_the_session_poll_then_fetch_once(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    poll_server.futures_hold = True
    futures = [sampler.sample(_prompt(i + 1), 2, PARAMS) for i in range(20)]
    assert wait_for(lambda: len(poll_server.requests_to("asample")) == 20)
    assert wait_for(lambda: len(_polls(poll_server)) >= 1)
    time.sleep(0.3)
    # Nothing is announced yet: no sample polls its own future.
    assert poll_server.requests_to("retrieve_future") == []
    assert not any(f.done() for f in futures)

    poll_server.release_futures()
    results = [f.result(timeout=WAIT) for f in futures]
    assert all(len(r.sequences) == 2 for r in results)
    # One ordinary fetch per sample, once it was announced.
    fetched = [r.json["request_id"] for r in poll_server.requests_to("retrieve_future")]
    assert sorted(fetched) == sorted(_sample_ids(poll_server))

    # Every fetched id is acknowledged, and the cursor of the replies is echoed.
    assert wait_for(lambda: set(poll_server.retrieved_acks) == _sample_ids(poll_server))
    polls = _polls(poll_server)
    assert polls[0]["prev_cursor"] == 0
    assert [p["prev_cursor"] for p in polls] == sorted(p["prev_cursor"] for p in polls)
    assert polls[-1]["prev_cursor"] == 20  # 20 completions, numbered from 1
    for body in polls:
        assert body["target"] == {
            "type": "sampling_session",
            "sampling_session_id": sampler.sampling_session_id,
            "cloned_sampler_id": 0,
        }
    # Long polls (samples waiting) leave the timeout to the server; acknowledging polls
    # (nobody waiting) say 0.
    assert "timeout" not in polls[0]
    assert polls[-1]["timeout"] == 0
    assert polls[-1]["retrieved_request_ids"]
    # Background work: the poller carries no public call's headers.
    assert all("x-sdk-method" not in r.headers for r in poll_server.requests_to("retrieve_futures"))


def test_the_poller_is_idle_when_nothing_waits(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    time.sleep(0.5)
    assert _polls(poll_server) == []  # nothing sampled yet: not a single poll
    for i in range(3):
        sampler.sample(_prompt(i + 1), 1, PARAMS).result(timeout=WAIT)
    assert wait_for(lambda: set(poll_server.retrieved_acks) == _sample_ids(poll_server))
    time.sleep(0.2)
    settled = len(_polls(poll_server))
    time.sleep(1.5)
    assert len(_polls(poll_server)) == settled  # idle: no request storm, no polling at all
    assert settled <= 3 * 3  # at most a long poll and an acknowledgement or so per sample


def test_sample_async_waits_on_the_poller_and_sequence_ids_are_stamped(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    async def main() -> list[types.SampleResponse]:
        return await asyncio.wait_for(
            asyncio.gather(*(sampler.sample_async(_prompt(i + 1), 2, PARAMS) for i in range(16))),
            WAIT,
        )

    results = asyncio.run(main())
    assert len(_polls(poll_server)) >= 1
    by_rid = {r.json["seq_id"]: r for r in poll_server.requests_to("asample")}
    assert len(by_rid) == 16
    for out in results:
        ids = [s.sequence_id for s in out.sequences]
        assert len(ids) == 2
        assert all(ids)
        rid = ids[0].rsplit(":", 1)[0]  # type: ignore[union-attr]
        assert ids == [f"{rid}:0", f"{rid}:1"]
        assert rid in _sample_ids(poll_server)


def test_a_failed_sample_raises_its_own_error(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    poll_server.inject("asample", faults.fail("sampler fell over", category="user"))
    with pytest.raises(RequestFailedError, match="sampler fell over"):
        sampler.sample(_prompt(1), 1, PARAMS).result(timeout=WAIT)
    # The poller is still fine for the next sample.
    assert len(sampler.sample(_prompt(2), 1, PARAMS).result(timeout=WAIT).sequences) == 1


def test_retryable_and_bad_request_poll_errors_are_retried(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    poll_server.inject("retrieve_futures", faults.status(503))
    poll_server.inject("retrieve_futures", faults.status(400))
    poll_server.inject("retrieve_futures", faults.drop_before())
    out = sampler.sample(_prompt(1), 1, PARAMS).result(timeout=WAIT)
    assert len(out.sequences) == 1
    assert len(_polls(poll_server)) >= 4


def test_a_terminal_poll_error_reaches_every_waiter(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    poll_server.futures_hold = True
    poll_server.inject("retrieve_futures", faults.status(403))
    futures = [sampler.sample(_prompt(i + 1), 1, PARAMS) for i in range(5)]
    for future in futures:
        with pytest.raises(SampleResultsPollError, match=sampler.sampling_session_id):
            future.result(timeout=WAIT)
    # Later samples of the session fail the same way, at once.
    with pytest.raises(SampleResultsPollError, match="retrieve_futures polling failed"):
        sampler.sample(_prompt(9), 1, PARAMS).result(timeout=WAIT)


def test_a_dead_server_does_not_hang_a_waiter_past_its_timeout(
    poll_server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(poll_server, result_timeout=1.5)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    poll_server.futures_hold = True
    future = sampler.sample(_prompt(1), 1, PARAMS)
    assert wait_for(lambda: len(_polls(poll_server)) >= 1)
    poll_server.stop()
    started = time.monotonic()
    # Waiting longer than the client's result timeout: the sample's own wait still ends.
    with pytest.raises(SampleResultTimeoutError):
        future.result(timeout=WAIT)
    assert time.monotonic() - started < WAIT


def test_closing_sends_an_acknowledging_poll_and_ends_the_waits(
    poll_server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(poll_server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    sampler.sample(_prompt(1), 1, PARAMS).result(timeout=WAIT)
    poll_server.futures_hold = True
    waiting = sampler.sample(_prompt(2), 1, PARAMS)
    assert wait_for(lambda: len(poll_server.requests_to("asample")) == 2)
    assert wait_for(lambda: any("timeout" not in p for p in _polls(poll_server)[1:]))
    before = len(_polls(poll_server))
    service.close()
    with pytest.raises(SDKError):
        waiting.result(timeout=WAIT)
    after = _polls(poll_server)[before:]
    goodbye = poll_server.requests_to("retrieve_futures")[-1]
    assert "x-sdk-method" not in goodbye.headers  # sent while close() runs, but not for it
    assert after
    assert after[-1]["timeout"] == 0


def test_without_the_flag_samples_poll_their_own_futures(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    server.client_config = True
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    sampler.sample(_prompt(1), 1, PARAMS).result(timeout=WAIT)
    assert server.requests_to("retrieve_futures") == []
    assert len(server.requests_to("retrieve_future")) == 1


@pytest.fixture
def fast_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    from tinkex import _sample_results_poller

    monkeypatch.setattr(_sample_results_poller, "PAUSE_DELAY", 0.05)
    monkeypatch.setattr(_sample_results_poller, "RETRY_DELAY", 0.05)


@pytest.mark.usefixtures("fast_pauses")
def test_a_402_pauses_then_polling_goes_on(
    poll_server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    poll_server.inject("retrieve_futures", faults.status(402), times=3)
    assert len(sampler.sample(_prompt(1), 1, PARAMS).result(timeout=WAIT).sequences) == 1
    assert len(_polls(poll_server)) >= 4


@pytest.mark.usefixtures("fast_pauses")
def test_a_402_past_the_billing_pause_and_a_fourth_400_are_terminal(
    poll_server: FakeTinker, make_service: ServiceFactory
) -> None:
    poll_server.config_flags["billing_exception_max_pause_duration_sec"] = 0.2
    service = make_service(poll_server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    poll_server.inject("retrieve_futures", faults.status(402), times=1000)
    with pytest.raises(SampleResultsPollError, match="status 402"):
        sampler.sample(_prompt(1), 1, PARAMS).result(timeout=WAIT)

    other = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    poll_server.clear_faults()
    poll_server.inject("retrieve_futures", faults.status(400), times=4)
    with pytest.raises(SampleResultsPollError, match=other.sampling_session_id):
        other.sample(_prompt(2), 1, PARAMS).result(timeout=WAIT)
    assert len(poll_server.requests_to("retrieve_futures")) >= 4
