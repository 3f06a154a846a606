"""``sample_async`` runs on the caller's event loop (no hand-off to the SDK's loop thread),
with the same request, limits and seq-id numbering as ``sample``, and cleans up after itself."""

from __future__ import annotations

import asyncio
import threading
import warnings

import pytest
from sdkgen.runtime import ClientClosedError, Event

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker
from tinkex import types

PARAMS = types.SamplingParams(max_tokens=3)


def _prompt(*tokens: int) -> types.ModelInput:
    return types.ModelInput.from_ints(list(tokens))


class ThreadOfEachRequest:
    """A listener: the thread each request was sent from, by endpoint."""

    def __init__(self) -> None:
        self.threads: dict[str, set[str]] = {}
        self.lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.kind == "request_start":
            with self.lock:
                self.threads.setdefault(event.endpoint, set()).add(threading.current_thread().name)


def test_sample_async_sends_from_the_callers_loop(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    seen = ThreadOfEachRequest()
    service = make_service(server, listeners=[seen])
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)

    async def main() -> types.SampleResponse:
        return await asyncio.wait_for(sampler.sample_async(_prompt(1, 2), 2, PARAMS), WAIT)

    threading.current_thread().name = caller = "caller-of-sample-async"
    try:
        out = asyncio.run(main())
    finally:
        threading.current_thread().name = "MainThread"
    assert len(out.sequences) == 2
    assert [len(s.tokens) for s in out.sequences] == [3, 3]
    assert seen.threads["asample"] == {caller}
    assert seen.threads["retrieve_future"] == {caller}
    # The same sampler through sample(): the SDK's own loop thread sends.
    sampler.sample(_prompt(1, 2), 1, PARAMS).result(timeout=WAIT)
    assert seen.threads["asample"] == {caller, "tinkex"}


def test_seq_ids_stay_unique_across_loops_and_threads(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    futures = []

    def from_a_thread() -> None:
        for _ in range(10):
            futures.append(sampler.sample(_prompt(5), 1, PARAMS))

    async def from_a_loop() -> None:
        await asyncio.gather(*(sampler.sample_async(_prompt(6), 1, PARAMS) for _ in range(20)))

    threads = [threading.Thread(target=from_a_thread) for _ in range(2)]
    for t in threads:
        t.start()
    asyncio.run(asyncio.wait_for(from_a_loop(), WAIT))
    for t in threads:
        t.join(WAIT)
    for future in futures:
        future.result(timeout=WAIT)
    seq_ids = [r.json["seq_id"] for r in server.requests_to("asample")]
    assert len(seq_ids) == 40
    assert sorted(seq_ids) == list(range(40))


def test_compute_logprobs_async_pads_like_compute_logprobs(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    prompt = _prompt(3, 1, 4, 1)
    in_thread = sampler.compute_logprobs(prompt).result(timeout=WAIT)
    on_loop = asyncio.run(asyncio.wait_for(sampler.compute_logprobs_async(prompt), WAIT))
    assert on_loop == in_thread
    assert len(on_loop) == 4
    assert on_loop[0] is None


def test_sample_async_checks_its_arguments_and_the_client(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    with pytest.raises(ValueError, match="num_samples"):
        asyncio.run(sampler.sample_async(_prompt(1), 0, PARAMS))
    service.close()
    with pytest.raises(ClientClosedError, match="closed"):
        asyncio.run(sampler.sample_async(_prompt(1), 1, PARAMS))
    assert server.requests_to("asample") == []


def test_a_callers_loop_leaves_no_connection_open(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(3):  # three loops, one after the other, each with its own connections
            asyncio.run(asyncio.wait_for(sampler.sample_async(_prompt(1), 1, PARAMS), WAIT))
        import gc

        gc.collect()
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert len(service.holder.api._pools._guests) == 0  # each loop's clients closed with it


def test_a_handle_sampler_can_sample_async_first(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    """A sampler whose client has sent nothing yet: the server's flags are fetched first."""
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    other = tinker.SamplingClient.from_sampler_handle(
        sampler.get_sampler_handle(), api_key="tml-test-key"
    )
    try:
        out = asyncio.run(asyncio.wait_for(other.sample_async(_prompt(2, 3), 1, PARAMS), WAIT))
        assert len(out.sequences) == 1
        assert other.holder.features.known_config is not None
    finally:
        other.close()
