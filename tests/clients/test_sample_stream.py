"""Streamed samples: tokens as they are generated, over server-sent events, on servers that
say they stream; a normal end, an early close, an error mid-stream; never a silent reconnect."""

from __future__ import annotations

import asyncio

import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex import types

PROMPT = types.ModelInput.from_ints([3, 4, 5])


@pytest.fixture
def streaming(fake_tinker: FakeTinkerFactory) -> FakeTinker:
    server = fake_tinker(client_config=True)
    server.config_flags["sample_streaming"] = True
    return server


def sampler_on(server: FakeTinker, make_service: ServiceFactory) -> tinker.SamplingClient:
    service = make_service(server)
    return service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


def test_chunks_add_up_to_what_sample_returns(
    streaming: FakeTinker, make_service: ServiceFactory
) -> None:
    sampler = sampler_on(streaming, make_service)
    params = types.SamplingParams(max_tokens=5)
    with sampler.sample_stream(PROMPT, 2, params) as stream:
        chunks = list(stream)
    assert all(isinstance(c, types.SampleStreamChunk) for c in chunks)
    tokens: dict[int, list[int]] = {0: [], 1: []}
    for chunk in chunks:
        tokens[chunk.sequence_index] += chunk.tokens
    whole = sampler.sample(PROMPT, 2, params).result(timeout=WAIT)
    assert [tokens[0], tokens[1]] == [s.tokens for s in whole.sequences]
    finals = [c for c in chunks if c.stop_reason is not None]
    assert [c.sequence_index for c in finals] == [0, 1]
    assert finals[0].stop_reason == "length"
    assert len(streaming.requests_to("sample_stream")) == 1


def test_breaking_out_early_hangs_up(streaming: FakeTinker, make_service: ServiceFactory) -> None:
    sampler = sampler_on(streaming, make_service)
    stream = sampler.sample_stream(PROMPT, 1, types.SamplingParams(max_tokens=20))
    for _chunk in stream:
        break
    assert stream._closed
    assert stream._stream is not None
    assert stream._stream.response.is_closed
    # the client still works afterwards
    assert sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=1)).result(timeout=WAIT)


def test_an_error_in_the_middle_raises_and_does_not_reconnect(
    streaming: FakeTinker, make_service: ServiceFactory
) -> None:
    streaming.stream_error_after = 2
    sampler = sampler_on(streaming, make_service)
    got: list[types.SampleStreamChunk] = []
    stream = iter(sampler.sample_stream(PROMPT, 1, types.SamplingParams(max_tokens=10)))
    got.append(next(stream))
    got.append(next(stream))
    with pytest.raises(tinker.APIError, match="sampler crashed"):
        next(stream)
    assert len(got) == 2
    assert len(streaming.requests_to("sample_stream")) == 1


def test_a_stream_cut_off_raises(streaming: FakeTinker, make_service: ServiceFactory) -> None:
    streaming.inject("sample_stream", faults.truncate_after())
    sampler = sampler_on(streaming, make_service)
    with pytest.raises(tinker.APIConnectionError):
        list(sampler.sample_stream(PROMPT, 1, types.SamplingParams(max_tokens=40)))
    assert len(streaming.requests_to("sample_stream")) == 1


def test_a_server_without_streaming_is_refused_before_sending(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    sampler = sampler_on(server, make_service)
    with pytest.raises(NotImplementedError, match="does not stream samples"):
        list(sampler.sample_stream(PROMPT, 1, types.SamplingParams(max_tokens=2)))
    assert server.requests_to("sample_stream") == []


def test_async_iteration(streaming: FakeTinker, make_service: ServiceFactory) -> None:
    sampler = sampler_on(streaming, make_service)

    async def collect() -> list[int]:
        tokens: list[int] = []
        async for chunk in sampler.sample_stream(PROMPT, 1, types.SamplingParams(max_tokens=4)):
            tokens += chunk.tokens
        return tokens

    tokens = asyncio.run(collect())
    assert (
        tokens
        == sampler.sample(PROMPT, 1, types.SamplingParams(max_tokens=4))
        .result(timeout=WAIT)
        .sequences[0]
        .tokens
    )
