"""ServiceClient: the lazy session, its heartbeat, finishing it, closing, and the server's flags."""

from __future__ import annotations

import logging
import time

import pytest

import tinkex as tinker
from tests.clients.conftest import (
    BASE_MODEL,
    WAIT,
    ServiceFactory,
    datum,
    tinkex_threads,
    wait_for,
    work_requests,
)
from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex import types

# ---------------------------------------------------------------------- the session


def test_session_is_created_on_first_use_with_its_metadata(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(
        server,
        user_metadata={"owner": "alice"},
        project_id="proj-1",
        tags=["beta", "alpha"],
    )
    time.sleep(0.15)  # several heartbeat periods: nothing may happen before the first use
    assert server.requests == []
    assert not service.holder.session.started

    service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)

    creates = server.requests_to("create_session")
    assert len(creates) == 1
    body = creates[0].json
    assert body["tags"] == ["alpha", "beta"]
    assert body["user_metadata"] == {"owner": "alice"}
    assert body["project_id"] == "proj-1"
    assert body["sdk_version"] == service.holder.version != ""
    (session,) = server.sessions.values()
    assert session.tags == ["alpha", "beta"]
    assert session.project_id == "proj-1"
    # the client config was asked for before the session, once
    names = [r.endpoint for r in server.requests]
    assert names.index("get_client_config") < names.index("create_session")
    assert names.count("get_client_config") == 1


def test_tags_and_project_come_from_the_environment(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_TAGS", "env-tag, other ,")
    monkeypatch.setenv("TINKER_PROJECT_ID", "env-project")
    service = make_service(server, tags=["arg-tag"])
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    body = server.requests_to("create_session")[0].json
    assert body["tags"] == ["arg-tag", "env-tag", "other"]
    assert body["project_id"] == "env-project"
    assert body["user_metadata"] == {}  # always sent


def test_base_url_from_the_environment(
    server: FakeTinker, make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKER_BASE_URL", server.base_url)
    service = make_service(server, base_url=None)
    caps = service.get_server_capabilities()
    assert [m.model_name for m in caps.supported_models] == [BASE_MODEL]
    assert server.requests_to("get_server_capabilities")[0].headers["x-api-key"] == "tml-test-key"


def test_one_session_for_many_clients(server: FakeTinker, service: tinker.ServiceClient) -> None:
    futures = [service.create_lora_training_client(BASE_MODEL, rank=2) for _ in range(4)]
    clients = [f.result(timeout=WAIT) for f in futures]
    assert len(server.requests_to("create_session")) == 1
    (sid,) = server.sessions
    assert sorted(c.model_id for c in clients) == [f"{sid}:train:{i}" for i in range(4)]
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    assert sampler.sampling_session_id in server.sessions[sid].sampler_ids
    assert len(server.sessions) == 1


def test_session_messages_are_logged(
    server: FakeTinker, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    import tests.fake_tinker.server as fake_module

    original = fake_module.FakeTinker._h_create_session

    def with_warning(self: FakeTinker, call: object, req: object) -> fake_module.Reply:
        reply = original(self, call, req)  # type: ignore[arg-type]
        reply.body["warning_message"] = "your quota is nearly used"
        return reply

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fake_module.FakeTinker, "_h_create_session", with_warning)
        service = make_service(server)
        with caplog.at_level(logging.INFO, logger="tinkex"):
            service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    assert any(
        r.levelno == logging.WARNING and "your quota is nearly used" in r.getMessage()
        for r in caplog.records
    )


# ---------------------------------------------------------------------- heartbeat


def _session_id(server: FakeTinker) -> str:
    (sid,) = server.sessions
    return sid


def test_heartbeats_arrive_at_the_configured_period(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server, heartbeat_period=0.1)
    start = time.monotonic()
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sid = _session_id(server)
    assert wait_for(lambda: server.heartbeats[sid] >= 5, timeout=5.0)
    elapsed = time.monotonic() - start
    # 5 beats at 0.1 s take at least 0.5 s: not a busy loop, not the default 10 s period
    assert 0.45 <= elapsed <= 8.0, elapsed
    before = server.heartbeats[sid]
    time.sleep(0.5)
    count = server.heartbeats[sid]
    # about 5 more; a loaded machine may run fewer, a fixed period never many more
    assert before + 1 <= count <= before + 7, (before, count)
    assert service.holder.session.heartbeats_ok >= 5
    body = server.requests_to("session_heartbeat")[0].json
    assert body["session_id"] == sid


def test_default_heartbeat_period_is_ten_seconds(server: FakeTinker) -> None:
    service = tinker.ServiceClient(base_url=server.base_url)
    try:
        assert service.holder.settings.heartbeat_period == 10.0
    finally:
        service.close()


def test_410_on_heartbeat_stops_the_heartbeat(
    server: FakeTinker, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sid = _session_id(server)
    assert wait_for(lambda: server.heartbeats[sid] >= 2)
    with caplog.at_level(logging.INFO, logger="tinkex"):
        server.expire_session(sid)
        task = service.holder.session.heartbeat
        assert task is not None
        assert wait_for(task.done, timeout=5.0), "the heartbeat did not stop after a 410"
    sent = len(server.requests_to("session_heartbeat"))
    time.sleep(0.3)  # six periods
    assert len(server.requests_to("session_heartbeat")) == sent
    assert any("heartbeat stops" in r.getMessage() for r in caplog.records)


def test_heartbeat_failures_are_logged_and_warned_about_after_the_threshold(
    server: FakeTinker,
    make_service: ServiceFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tinkex._session.HEARTBEAT_WARN_AFTER", 0.3)
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sid = _session_id(server)
    assert wait_for(lambda: server.heartbeats[sid] >= 1)
    with caplog.at_level(logging.DEBUG, logger="tinkex"):
        server.inject("session_heartbeat", faults.status(500), times=10_000)
        assert wait_for(
            lambda: any(r.levelno == logging.WARNING for r in caplog.records), timeout=5.0
        )
        records = [r for r in caplog.records if r.name == "tinkex"]
        debug = [r for r in records if r.getMessage().startswith("heartbeat for session")]
        warning = [r for r in records if r.levelno == logging.WARNING]
        assert debug, "failures before the threshold are logged (at debug)"
        assert sid in debug[0].getMessage()
        assert warning
        assert "no successful heartbeat" in warning[0].getMessage()
        assert sid in warning[0].getMessage()
        # the first failures come before the warning
        assert records.index(debug[0]) < records.index(warning[0])
    # the heartbeat keeps going through failures and recovers
    before = server.heartbeats[sid]
    server.clear_faults()
    assert wait_for(lambda: server.heartbeats[sid] > before + 1, timeout=5.0)


# ---------------------------------------------------------------------- finishing and closing


def _finish_requests(server: FakeTinker) -> list[dict[str, object]]:
    return [r.json for r in server.requests_to("finish_session")]


def test_close_finishes_the_session_with_success(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sid = _session_id(server)
    service.close()
    assert server.sessions[sid].finish_reason == "success"
    (finish,) = _finish_requests(server)
    assert finish["reason"] == {"type": "success"}
    assert tinkex_threads() == []
    beats = len(server.requests_to("session_heartbeat"))
    time.sleep(0.2)
    assert len(server.requests_to("session_heartbeat")) == beats  # no heartbeat after close


def test_context_manager_success(server: FakeTinker, make_service: ServiceFactory) -> None:
    with make_service(server) as service:
        service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    assert server.sessions[_session_id(server)].finish_reason == "success"
    assert tinkex_threads() == []


def test_context_manager_errored(server: FakeTinker, make_service: ServiceFactory) -> None:
    def run() -> None:
        with make_service(server) as service:
            service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run()
    session = server.sessions[_session_id(server)]
    assert session.finish_reason == "errored"
    assert session.finish_detail is not None
    assert "RuntimeError" in session.finish_detail
    assert "boom" in session.finish_detail
    assert tinkex_threads() == []


def test_context_manager_interrupted(server: FakeTinker, make_service: ServiceFactory) -> None:
    def run() -> None:
        with make_service(server) as service:
            service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run()
    assert server.sessions[_session_id(server)].finish_reason == "interrupted"
    assert tinkex_threads() == []


def test_close_without_a_session_sends_nothing(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    service.close()
    assert server.requests == []
    assert tinkex_threads() == []


def test_closing_twice_is_fine_and_finishes_once(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    service.close()
    service.close()
    service.close("errored")
    assert len(_finish_requests(server)) == 1
    assert server.sessions[_session_id(server)].finish_reason == "success"


@pytest.mark.filterwarnings("error::RuntimeWarning")  # e.g. "coroutine ... was never awaited"
def test_closed_client_raises_a_clear_error(
    server: FakeTinker, make_service: ServiceFactory
) -> None:
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sampler = service.create_sampling_client(base_model=BASE_MODEL).result(timeout=WAIT)
    rest = service.create_rest_client()
    service.close()
    sent = work_requests(server)
    calls = [
        lambda: service.create_lora_training_client(BASE_MODEL),
        lambda: service.create_sampling_client(base_model=BASE_MODEL),
        service.get_server_capabilities,
        lambda: training.forward_backward([datum([1, 2, 3])], "cross_entropy"),
        lambda: training.optim_step(),
        lambda: training.save_state("x"),
        lambda: sampler.sample(types.ModelInput.from_ints([1]), 1, types.SamplingParams()),
        lambda: rest.list_training_runs(),
    ]
    for call in calls:
        with pytest.raises(tinker.ClientClosedError, match="closed"):
            call()
    assert work_requests(server) == sent
    assert tinkex_threads() == []


def test_close_stops_work_in_flight(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker()
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    server.try_agains_by_endpoint["forward_backward"] = 10**9  # never completes
    future = training.forward_backward([datum([1, 2, 3])], "cross_entropy")
    assert wait_for(lambda: len(server.requests_to("retrieve_future")) > 3)
    start = time.monotonic()
    service.close()
    assert time.monotonic() - start < 5.0
    # the waiter learns at once that the work stopped (cancelled, or the client is closed)
    with pytest.raises((tinker.runtime.FutureCancelledError, tinker.ClientClosedError)):
        future.result(timeout=2.0)
    polls = len(server.requests_to("retrieve_future"))
    time.sleep(0.2)
    assert len(server.requests_to("retrieve_future")) == polls
    assert tinkex_threads() == []
    assert server.sessions[_session_id(server)].finish_reason == "success"


def test_close_does_not_hang_when_the_server_is_gone(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = fake_tinker()
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    sid = _session_id(server)
    server.stop()
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tinkex"):
        service.close()
    assert time.monotonic() - start < 5.0
    assert tinkex_threads() == []
    assert any(
        "could not finish session" in r.getMessage() and sid in r.getMessage()
        for r in caplog.records
    )


def test_close_does_not_wait_long_for_a_slow_finish(
    server: FakeTinker,
    make_service: ServiceFactory,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tinkex._session.FINISH_TIMEOUT", 0.3)
    service = make_service(server)
    service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    server.inject("finish_session", faults.delay(10.0, apply=False))
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tinkex"):
        service.close()
    assert time.monotonic() - start < 6.0  # far below the 10 s the server would take
    assert tinkex_threads() == []
    assert any("within 0.3s" in r.getMessage() for r in caplog.records)


def test_result_timeout_must_be_positive(server: FakeTinker) -> None:
    with pytest.raises(tinker.runtime.ConfigError, match="result_timeout"):
        tinker.ServiceClient(base_url=server.base_url, result_timeout=0)
    assert tinkex_threads() == []


def test_unknown_arguments_warn(server: FakeTinker, make_service: ServiceFactory) -> None:
    # Type checkers refuse them (tests/typing); at run time code written for the official SDK,
    # which ignores such keywords with a FutureWarning, keeps running.
    with pytest.warns(FutureWarning, match="ignores unknown arguments: bogus_option"):
        make_service(server, bogus_option=1)


# ---------------------------------------------------------------------- client config


def test_server_without_client_config_uses_the_defaults(
    server: FakeTinker, service: tinker.ServiceClient
) -> None:
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    out = training.forward_backward(
        [datum([1, 2, 3, 4]) for _ in range(5)], "cross_entropy"
    ).result()
    assert len(out.loss_fn_outputs) == 5
    (config_request,) = server.requests_to("get_client_config")
    assert config_request.json["sdk_version"] == service.holder.version
    assert len(server.requests_to("forward_backward")) == 1
    config = service.holder.features.known_config
    assert config is not None
    assert config.fwdbwd_max_chunk_len == 1024
    assert config.fwdbwd_max_chunk_bytes_count == 5_000_000


def _chunked_server(fake_tinker: FakeTinkerFactory, **flags: int) -> FakeTinker:
    server = fake_tinker(client_config=True)
    server.config_flags.update(flags)
    return server


def _fb_results(server: FakeTinker, model_id: str) -> list[dict[str, object]]:
    return [
        f.result
        for f in server.futures.values()
        if f.endpoint == "forward_backward" and f.model_id == model_id and f.result
    ]


def test_forward_backward_is_chunked_by_datum_count(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = _chunked_server(fake_tinker, fwdbwd_max_chunk_len=2)
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    data = [datum([10 * i + 1, 10 * i + 2, 10 * i + 3 + i]) for i in range(5)]
    out = training.forward_backward(data, "cross_entropy").result()

    requests = server.requests_to("forward_backward")
    assert [len(r.json["forward_backward_input"]["data"]) for r in requests] == [2, 2, 1]
    assert [r.json["seq_id"] for r in requests] == [1, 2, 3]
    assert server.seq_log[training.model_id] == [0, 1, 2, 3]
    # each chunk carries its own datums, in order
    sent = [
        d["model_input"]["chunks"][0]["tokens"]
        for r in requests
        for d in r.json["forward_backward_input"]["data"]
    ]
    assert sent == [d.model_input.to_ints() for d in data]
    # outputs concatenated in order: datum i's logprobs are for its own targets
    per_chunk = _fb_results(server, training.model_id)
    expected_outputs = [o["logprobs"]["data"] for r in per_chunk for o in r["loss_fn_outputs"]]
    assert [o["logprobs"].data for o in out.loss_fn_outputs] == expected_outputs
    assert [o["logprobs"].shape for o in out.loss_fn_outputs] == [[2]] * 5
    # metrics merged by suffix: loss:sum adds up the chunks' sums
    chunk_sums = [r["metrics"]["loss:sum"] for r in per_chunk]
    assert len(chunk_sums) == 3
    assert out.metrics["loss:sum"] == pytest.approx(sum(chunk_sums))
    # the next request follows the chunks' seq ids
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1, 2, 3, 4]


def test_forward_backward_is_chunked_by_bytes(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    from tinkex._chunking import datum_bytes

    data = [datum([1, 2, 3, 4]) for _ in range(5)] + [datum(list(range(1, 60)))]
    size = datum_bytes(data[0])
    assert datum_bytes(data[-1]) > 2 * size
    server = _chunked_server(fake_tinker, fwdbwd_max_chunk_bytes_count=2 * size)
    service = make_service(server)
    training = service.create_lora_training_client(BASE_MODEL).result(timeout=WAIT)
    out = training.forward(data, "cross_entropy").result()
    # forward-only chunks: /forward in JSON, /forward_backward with forward_only in protobuf
    requests = [r for r in server.requests if r.json and "forward_input" in r.json]
    # two small datums fit a chunk; the big one goes alone
    assert [len(r.json["forward_input"]["data"]) for r in requests] == [2, 2, 1, 1]
    assert [r.json["seq_id"] for r in requests] == [1, 2, 3, 4]
    assert len(out.loss_fn_outputs) == 6
    assert [len(o["logprobs"].data) for o in out.loss_fn_outputs] == [3] * 5 + [58]
    assert server.optim_steps[training.model_id] == 0


def test_metrics_are_merged_by_their_suffix() -> None:
    from tinkex._chunking import merge_outputs

    def output(n: int, metrics: dict[str, float]) -> types.ForwardBackwardOutput:
        return types.ForwardBackwardOutput(
            loss_fn_output_type="ArrayRecord",
            loss_fn_outputs=[{"logprobs": [float(n)]} for _ in range(n)],
            metrics=metrics,
        )

    merged = merge_outputs(
        [
            output(1, {"a:mean": 1.0, "b:sum": 2.0, "c:min": 5.0, "d:max": 1.0, "e": 3.0}),
            output(3, {"a:mean": 3.0, "b:sum": 4.0, "c:min": 2.0, "d:max": 7.0, "e": 4.0}),
        ],
        [1, 3],
    )
    assert merged.metrics == {
        "a:mean": pytest.approx((1.0 * 1 + 3.0 * 3) / 4),
        "b:sum": 6.0,
        "c:min": 2.0,
        "d:max": 7.0,
    }  # "e" has no reduction: dropped rather than merged wrongly
    assert [o["logprobs"].data for o in merged.loss_fn_outputs] == [[1.0], [3.0], [3.0], [3.0]]
