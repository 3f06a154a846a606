"""SamplingClient against the fake server: sampling, logprobs, backpressure, retries, pickling."""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
import pickle
import time

import httpx
import pytest
from sdkgen.runtime import APIFuture

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory
from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.state import token_logprob
from tinkex import types


@pytest.fixture
def sampler(service: tinker.ServiceClient) -> tinker.SamplingClient:
    return service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)


def _prompt(*tokens: int) -> types.ModelInput:
    return types.ModelInput.from_ints(list(tokens))


# ---------------------------------------------------------------------- sample


def test_create_sampling_client_on_a_base_model(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    (create,) = server.requests_to("create_sampling_session")
    (sid,) = server.sessions
    assert create.json["session_id"] == sid
    assert create.json["base_model"] == BASE_MODEL
    assert create.json["sampling_session_seq_id"] == 0
    assert sampler.sampling_session_id == f"{sid}:sample:0"
    assert sampler.get_base_model() == BASE_MODEL


def test_sample_sends_its_parameters_and_returns_sequences(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    params = types.SamplingParams(max_tokens=4, seed=7, temperature=0.5, top_p=0.9)
    out = sampler.sample(_prompt(1, 2), num_samples=3, sampling_params=params).result()
    (request,) = server.requests_to("asample")
    body = request.json
    assert body["num_samples"] == 3
    assert body["sampling_session_id"] == sampler.sampling_session_id
    assert body["seq_id"] == 0
    assert body["prompt"]["chunks"][0]["tokens"] == [1, 2]
    assert body["sampling_params"]["max_tokens"] == 4
    assert body["sampling_params"]["seed"] == 7
    assert body["sampling_params"]["temperature"] == 0.5
    assert request.headers["x-tinker-sampling-backpressure"] == "1"
    assert isinstance(out, types.SampleResponse)
    assert len(out.sequences) == 3
    assert all(len(s.tokens) == 4 and s.stop_reason == "length" for s in out.sequences)
    assert all(len(s.logprobs or []) == 4 for s in out.sequences)
    assert len({tuple(s.tokens) for s in out.sequences}) == 3  # three different samples


def test_stop_tokens_end_a_sequence(server: FakeTinker, sampler: tinker.SamplingClient) -> None:
    free = sampler.sample(_prompt(1, 2), 1, types.SamplingParams(max_tokens=5)).result()
    tokens = free.sequences[0].tokens
    stop = tokens[2]
    out = sampler.sample(_prompt(1, 2), 1, types.SamplingParams(max_tokens=5, stop=[stop])).result()
    assert server.requests_to("asample")[-1].json["sampling_params"]["stop"] == [stop]
    assert out.sequences[0].tokens == tokens[:3]
    assert out.sequences[0].stop_reason == "stop"


def test_sequence_ids_come_from_the_submission(
    server: FakeTinker, sampler: tinker.SamplingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result may lack sequence ids; the client stamps them from ``sample_sequence_ids``."""
    import tests.fake_tinker.server as fake_module

    original = fake_module.sample_outputs

    def without_ids(*args: object) -> dict[str, object]:
        out = original(*args)  # type: ignore[arg-type]
        for sequence in out["sequences"]:
            sequence.pop("sequence_id", None)
        return out

    monkeypatch.setattr(fake_module, "sample_outputs", without_ids)
    out = sampler.sample(_prompt(3), 2, types.SamplingParams(max_tokens=1)).result()
    (future,) = [f for f in server.futures.values() if f.endpoint == "asample"]
    assert "sequence_id" not in future.result["sequences"][0]  # type: ignore[index]
    assert [s.sequence_id for s in out.sequences] == [
        f"{future.request_id}:0",
        f"{future.request_id}:1",
    ]


def test_seq_ids_count_up_per_sampler(server: FakeTinker, sampler: tinker.SamplingClient) -> None:
    for i in range(3):
        sampler.sample(_prompt(i + 1), 1, types.SamplingParams(max_tokens=1)).result()
    assert [r.json["seq_id"] for r in server.requests_to("asample")] == [0, 1, 2]
    assert server.seq_log[sampler.sampling_session_id] == [0, 1, 2]


def test_prompt_logprobs_and_top_k(server: FakeTinker, sampler: tinker.SamplingClient) -> None:
    out = sampler.sample(
        _prompt(5, 6, 7),
        1,
        types.SamplingParams(max_tokens=1),
        include_prompt_logprobs=True,
        topk_prompt_logprobs=2,
    ).result()
    body = server.requests_to("asample")[0].json
    assert body["prompt_logprobs"] is True
    assert body["topk_prompt_logprobs"] == 2
    assert out.prompt_logprobs == [None, token_logprob(6, 1, 0), token_logprob(7, 2, 0)]
    assert out.topk_prompt_logprobs is not None
    assert out.topk_prompt_logprobs[0] is None
    assert [len(row or []) for row in out.topk_prompt_logprobs] == [0, 2, 2]


BAD_SAMPLE_ARGUMENTS = [
    ({"num_samples": 0}, "num_samples"),
    ({"num_samples": -1}, "num_samples"),
    ({"topk_prompt_logprobs": -1}, "top-k"),
    ({"topk_sample_logprobs": -3}, "top-k"),
    ({"prompt_logprobs_last_n": 2}, "include_prompt_logprobs"),
    ({"prompt_logprobs_last_n": 0, "include_prompt_logprobs": True}, "prompt_logprobs_last_n"),
]


def test_bad_sample_arguments_fail_before_any_request(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    for kwargs, message in BAD_SAMPLE_ARGUMENTS:
        kwargs = {"num_samples": 1, **kwargs}
        with pytest.raises(ValueError, match=message):
            sampler.sample(_prompt(1), sampling_params=types.SamplingParams(), **kwargs)  # type: ignore[arg-type]
    assert server.requests_to("asample") == []
    # nothing was used up: the next request has the first seq id
    sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=1)).result()
    assert [r.json["seq_id"] for r in server.requests_to("asample")] == [0]


# ---------------------------------------------------------------------- compute_logprobs


def test_compute_logprobs_one_per_prompt_token(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    tokens = [11, 12, 13, 14]
    logprobs = sampler.compute_logprobs(_prompt(*tokens)).result()
    assert len(logprobs) == len(tokens)
    assert logprobs[0] is None
    assert logprobs[1:] == [token_logprob(t, i, 0) for i, t in enumerate(tokens) if i > 0]
    body = server.requests_to("asample")[0].json
    assert body["prompt_logprobs"] is True
    assert body["sampling_params"]["max_tokens"] == 1


def _stub_sample(
    sampler: tinker.SamplingClient, monkeypatch: pytest.MonkeyPatch, prompt_logprobs: list[float]
) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = []

    def sample(prompt: types.ModelInput, num_samples: int, sampling_params: object, **kw: object):  # type: ignore[no-untyped-def]
        calls.append(kw)
        done: concurrent.futures.Future[types.SampleResponse] = concurrent.futures.Future()
        done.set_result(
            types.SampleResponse(
                sequences=[types.SampledSequence(stop_reason="length", tokens=[1])],
                prompt_logprobs=prompt_logprobs,
            )
        )
        return APIFuture(done)

    monkeypatch.setattr(sampler, "sample", sample)
    return calls


def test_compute_logprobs_pads_a_reply_one_short(
    sampler: tinker.SamplingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some servers return no entry for the first token: the list still has one per token."""
    calls = _stub_sample(sampler, monkeypatch, [-0.5, -0.25, -0.125])
    logprobs = sampler.compute_logprobs(_prompt(1, 2, 3, 4)).result(timeout=WAIT)
    assert logprobs == [None, -0.5, -0.25, -0.125]
    assert calls[0]["include_prompt_logprobs"] is True


def test_compute_logprobs_keeps_a_full_reply(
    sampler: tinker.SamplingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_sample(sampler, monkeypatch, [-1.0, -0.5, -0.25])
    assert sampler.compute_logprobs(_prompt(1, 2, 3)).result(timeout=WAIT) == [-1.0, -0.5, -0.25]


# ---------------------------------------------------------------------- backpressure and retries


def test_429_is_waited_out_and_resent_with_the_same_seq_id(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    reference = sampler.sample(_prompt(9, 9), 1, types.SamplingParams(max_tokens=3)).result()
    server.inject("asample", faults.status(429, headers={"retry-after": "0"}), times=2)
    start = time.monotonic()
    out = sampler.sample(_prompt(9, 9), 1, types.SamplingParams(max_tokens=3)).result()
    elapsed = time.monotonic() - start
    sent = server.requests_to("asample")[1:]
    assert len(sent) == 3
    assert [r.json["seq_id"] for r in sent] == [1, 1, 1]
    assert server.seq_log[sampler.sampling_session_id] == [0, 1]  # applied once
    assert [f[1] for f in server.faults_fired] == ["status", "status"]
    assert out.sequences[0].tokens == reference.sequences[0].tokens
    assert elapsed >= 0.9  # a backoff window after each 429 (1 s for a short prompt)
    assert elapsed < WAIT


def test_progress_timeout_gives_up_with_a_clear_error(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    config = tinker.RetryConfig(progress_timeout=0.3, retry_delay_base=0.02, retry_delay_max=0.05)
    sampler = service.create_sampling_client(base_model=BASE_MODEL, retry_config=config).result(
        timeout=WAIT
    )
    server.inject("asample", faults.status(503), times=10**6)
    start = time.monotonic()
    with pytest.raises(tinker.APIConnectionError, match="no sampling request made progress") as err:
        sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=1)).result()
    assert 0.3 <= time.monotonic() - start < 8.0  # the 503s never end: only the limit stops it
    assert "0.3s" in str(err.value)
    assert "503" in str(err.value)  # the last error is named
    assert len(server.requests_to("asample")) >= 3  # it did retry
    server.clear_faults()
    # the client still works once the server does
    assert sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=1)).result().sequences


def test_retryable_failures_are_retried(server: FakeTinker, sampler: tinker.SamplingClient) -> None:
    object.__setattr__(
        sampler, "retry_config", tinker.RetryConfig(retry_delay_base=0.01, retry_delay_max=0.02)
    )
    server.inject("asample", faults.status(503), times=2)
    out = sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=2)).result()
    assert len(out.sequences[0].tokens) == 2
    assert len(server.requests_to("asample")) == 3


def test_non_retryable_failures_raise_at_once(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    server.inject("asample", faults.status(422, body={"detail": "bad prompt"}))
    with pytest.raises(tinker.UnprocessableEntityError, match="bad prompt"):
        sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=2)).result()
    assert len(server.requests_to("asample")) == 1


def test_retry_logic_can_be_turned_off(server: FakeTinker, service: tinker.ServiceClient) -> None:
    config = tinker.RetryConfig(enable_retry_logic=False)
    sampler = service.create_sampling_client(base_model=BASE_MODEL, retry_config=config).result(
        timeout=WAIT
    )
    server.inject("asample", faults.status(503))
    with pytest.raises(tinker.InternalServerError):
        sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=2)).result()
    assert len(server.requests_to("asample")) == 1


def test_failed_sample_future_is_a_request_failed_error(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    server.inject("asample", faults.fail("prompt too long", category="user"))
    with pytest.raises(tinker.RequestFailedError, match="prompt too long") as err:
        sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=2)).result()
    assert err.value.category == "user"


def test_on_queue_state_change_sees_a_paused_queue(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    server.queue_state = "paused_capacity"
    server.try_agains_by_endpoint["asample"] = 2
    seen: list[tuple[str, str | None]] = []
    sampler.on_queue_state_change = lambda state, reason: seen.append((state, reason))  # type: ignore[method-assign]
    sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=1)).result()
    assert seen == [("paused_capacity", None), ("active", None)]


def test_a_paused_queue_is_logged_by_default(
    server: FakeTinker, sampler: tinker.SamplingClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.queue_state = "paused_rate_limit"
    server.try_agains_by_endpoint["asample"] = 1
    with caplog.at_level(logging.WARNING, logger="tinkex"):
        sampler.sample(_prompt(1), 1, types.SamplingParams(max_tokens=1)).result()
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("paused_rate_limit" in m and sampler.sampling_session_id in m for m in messages)


# ---------------------------------------------------------------------- pickling


def test_pickled_sampler_works_in_process(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    mine = sampler.sample(_prompt(1, 2), 1, types.SamplingParams(max_tokens=3)).result()
    clone = pickle.loads(pickle.dumps(sampler))
    try:
        assert isinstance(clone, tinker.SamplingClient)
        assert clone.sampling_session_id == sampler.sampling_session_id
        assert clone.base_model == BASE_MODEL
        assert clone.holder is not sampler.holder
        theirs = clone.sample(_prompt(7, 8), 1, types.SamplingParams(max_tokens=3)).result(
            timeout=WAIT
        )
        assert not clone.holder.session.started  # no session, no heartbeat of its own
        assert len(server.requests_to("create_session")) == 1
        assert server.requests_to("asample")[-1].headers["x-api-key"] == "tml-test-key"
    finally:
        clone.holder.close(status=None)
    expected = sampler.sample(_prompt(7, 8), 1, types.SamplingParams(max_tokens=3)).result()
    # the clone got an answer to its own prompt (not a replay of another request's)
    assert theirs.sequences[0].tokens == expected.sequences[0].tokens
    assert theirs.sequences[0].tokens != mine.sequences[0].tokens
    seqs = [r.json["seq_id"] for r in server.requests_to("asample")]
    assert len(set(seqs)) == len(seqs), f"a clone reused a seq id of its sampling session: {seqs}"
    assert server.deduped == []


def test_pickled_sampler_samples_in_a_spawned_worker(
    server: FakeTinker, sampler: tinker.SamplingClient
) -> None:
    from tests.clients._worker import sample_in_worker

    first = sampler.sample(_prompt(1, 2), 2, types.SamplingParams(max_tokens=3)).result()
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        result = pool.apply_async(sample_in_worker, (sampler, [3, 4])).get(timeout=60)
    expected = sampler.sample(_prompt(3, 4), 2, types.SamplingParams(max_tokens=3)).result()
    assert result["session"] == sampler.sampling_session_id
    assert result["base_model"] == BASE_MODEL
    assert result["tokens"] == [list(s.tokens) for s in expected.sequences]
    assert result["tokens"] != [list(s.tokens) for s in first.sequences]
    assert len(server.requests_to("create_session")) == 1
    assert server.deduped == []


def test_sampling_client_future_forwards_calls(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    future = service.create_sampling_client(base_model=BASE_MODEL)
    out = future.sample(_prompt(1), 1, types.SamplingParams(max_tokens=1)).result()
    assert len(out.sequences) == 1


def test_retry_config_waits_grow_to_their_cap_through_the_runtimes_backoff() -> None:
    config = tinker.RetryConfig(retry_delay_base=0.5, retry_delay_max=4.0, jitter_factor=0.25)
    for attempt, full in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0), (10_000, 4.0)]:
        waits = [config.delay(attempt) for _ in range(50)]
        assert all(full * 0.75 <= w <= full for w in waits), (attempt, waits)
    assert tinker.RetryConfig(jitter_factor=0.0).delay(1) == 1.0  # no jitter: exact


def test_retry_config_defaults_and_rules_are_the_manifests_sampling_policy() -> None:
    from tinkex._generated import endpoints
    from tinkex._generated.api import API_SPEC
    from tinkex._sampling_retry import resubmittable

    policy = API_SPEC.retry_policies[endpoints.ASAMPLE.resubmit or ""]
    config = tinker.RetryConfig()
    assert (config.retry_delay_base, config.retry_delay_max, config.jitter_factor) == (
        policy.initial_delay,
        policy.max_delay,
        policy.jitter,
    )
    request = httpx.Request("POST", "http://x/api/v1/asample")
    for status in (408, 409, 429, 500, 503):
        assert resubmittable(
            tinker.APIStatusError("x", response=httpx.Response(status, request=request))
        )
    for status in (400, 401, 404, 422):
        assert not resubmittable(
            tinker.APIStatusError("x", response=httpx.Response(status, request=request))
        )
    assert resubmittable(tinker.APIConnectionError("reset"))
    # a 429 on submission is the endpoint's backpressure rule, carried out by the runtime
    assert endpoints.ASAMPLE.backpressure is not None
    assert endpoints.ASAMPLE.backpressure.refuses(429)
    assert endpoints.ASAMPLE.backpressure.window_after(1) == 1.0
    assert endpoints.ASAMPLE.backpressure.window_after(10**6) == 5.0
