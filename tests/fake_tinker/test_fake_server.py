"""Self-tests of the fake Tinker server, with plain httpx against the running server."""

from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from tests.fake_tinker import FakeTinker, faults
from tests.fake_tinker.plugin import FakeTinkerFactory
from tinkex._generated import models as m

MODEL = "fake/tiny-model"


# ---------------------------------------------------------------------- helpers


def client(server: FakeTinker, timeout: float = 5.0) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=timeout)


def post(c: httpx.Client, endpoint: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"X-Idempotency-Key": key} if key else {}
    return c.post(f"/api/v1/{endpoint}", json=body, headers=headers)


def session(c: httpx.Client) -> str:
    r = post(c, "create_session", {"tags": [], "user_metadata": {}, "sdk_version": "test"})
    assert r.status_code == 200, r.text
    return str(m.CreateSessionResponse.model_validate(r.json()).session_id)


def result(c: httpx.Client, request_id: str, max_polls: int = 20) -> dict[str, Any]:
    """Poll a future until it is no longer try_again."""
    for _ in range(max_polls):
        r = post(c, "retrieve_future", {"request_id": request_id})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body.get("type") != "try_again":
            return body
    raise AssertionError(f"future {request_id} never completed")


def create_model(c: httpx.Client, sid: str, seq: int = 0, base: str = MODEL) -> str:
    body = {"session_id": sid, "model_seq_id": seq, "base_model": base, "lora_config": {"rank": 8}}
    r = post(c, "create_model", body)
    assert r.status_code == 200, r.text
    done = result(c, m.UntypedAPIFuture.model_validate(r.json()).request_id)
    return m.CreateModelResponse.model_validate(done).model_id


def datum(n: int, first: int = 1) -> dict[str, Any]:
    tokens = list(range(first, first + n + 1))
    return {
        "model_input": {"chunks": [{"tokens": tokens[:-1], "type": "encoded_text"}]},
        "loss_fn_inputs": {
            "target_tokens": {"data": tokens[1:], "dtype": "int64", "shape": [n]},
            "weights": {"data": [1.0] * n, "dtype": "float32", "shape": [n]},
        },
    }


def fwdbwd_body(model_id: str, seq: int, data: list[dict[str, Any]] | None = None) -> dict:
    return {
        "model_id": model_id,
        "seq_id": seq,
        "forward_backward_input": {"data": data or [datum(3)], "loss_fn": "cross_entropy"},
    }


def optim_body(model_id: str, seq: int) -> dict[str, Any]:
    return {"model_id": model_id, "seq_id": seq, "adam_params": {"learning_rate": 1e-4}}


def forward_backward(c: httpx.Client, model_id: str, seq: int) -> m.ForwardBackwardOutput:
    r = post(c, "forward_backward", fwdbwd_body(model_id, seq))
    assert r.status_code == 200, r.text
    return m.ForwardBackwardOutput.model_validate(result(c, r.json()["request_id"]))


def optim_step(c: httpx.Client, model_id: str, seq: int, key: str | None = None) -> str:
    r = post(c, "optim_step", optim_body(model_id, seq), key)
    assert r.status_code == 200, r.text
    return str(r.json()["request_id"])


@pytest.fixture
def server(fake_tinker: FakeTinkerFactory) -> FakeTinker:
    return fake_tinker()


@pytest.fixture
def c(server: FakeTinker) -> Any:
    with client(server) as http:
        yield http


@pytest.fixture
def model_id(c: httpx.Client) -> str:
    return create_model(c, session(c))


# ---------------------------------------------------------------------- lifecycle


def test_lifecycle_binds_loopback_and_stops() -> None:
    server = FakeTinker()
    assert not server.running
    server.start()
    try:
        host, port = server.address
        assert host == "127.0.0.1"
        assert port > 0
        assert server.base_url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{server.base_url}/api/v1/healthz").json() == {"status": "ok"}
        with pytest.raises(RuntimeError):
            server.start()
    finally:
        server.stop()
    assert not server.running
    server.stop()  # idempotent
    with pytest.raises(RuntimeError, match="restarted"):
        server.start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=2)


def test_context_manager() -> None:
    with FakeTinker() as server:
        url = server.base_url
        assert httpx.get(f"{url}/api/v1/healthz").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/healthz", timeout=2)


def test_fixture_factory_passes_options(fake_tinker: FakeTinkerFactory) -> None:
    server = fake_tinker(dedupe=False, try_agains=2, client_config=True)
    assert server.running
    assert (server.dedupe, server.try_agains, server.client_config) == (False, 2, True)


def test_stop_returns_promptly_while_a_delay_fault_sleeps(server: FakeTinker) -> None:
    server.inject("healthz", faults.delay(30))
    outcome: list[BaseException | httpx.Response] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(f"{server.base_url}/api/v1/healthz", timeout=40))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.faults_fired and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.faults_fired == [("health_check", "delay")]
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    thread.join(5)
    assert not thread.is_alive()
    assert isinstance(outcome[0], httpx.RemoteProtocolError)


def test_latency_delays_every_request(fake_tinker: FakeTinkerFactory) -> None:
    server = fake_tinker(latency=0.2)
    started = time.monotonic()
    assert httpx.get(f"{server.base_url}/api/v1/healthz").status_code == 200
    assert time.monotonic() - started >= 0.2


# ---------------------------------------------------------------------- config, sessions


def test_client_config_is_404_unless_enabled(fake_tinker: FakeTinkerFactory) -> None:
    off, on = fake_tinker(), fake_tinker(client_config=True)
    body = {"sdk_version": "0.1"}
    assert httpx.post(f"{off.base_url}/api/v1/client/config", json=body).status_code == 404
    defaults = httpx.post(f"{on.base_url}/api/v1/client/config", json=body)
    assert defaults.status_code == 200
    assert m.ClientConfigResponse.model_validate(defaults.json()) == m.ClientConfigResponse()
    on.config_flags["parallel_fwdbwd_chunks"] = False
    flags = httpx.post(f"{on.base_url}/api/v1/client/config", json=body).json()
    assert flags["parallel_fwdbwd_chunks"] is False
    assert httpx.post(f"{on.base_url}/api/v1/client/dynamic_config", json=body).status_code == 404


def test_session_lifecycle(server: FakeTinker, c: httpx.Client) -> None:
    sid = session(c)
    for _ in range(2):
        r = post(c, "session_heartbeat", {"session_id": sid, "type": "session_heartbeat"})
        assert r.json() == {"type": "session_heartbeat"}
    assert server.heartbeats[sid] == 2
    model_id = create_model(c, sid)
    got = m.GetSessionResponse.model_validate(c.get(f"/api/v1/sessions/{sid}").json())
    assert got.training_run_ids == [model_id]
    assert m.ListSessionsResponse.model_validate(c.get("/api/v1/sessions").json()).sessions == [sid]

    assert post(c, f"sessions/{sid}/finish", {"reason": {"type": "errored"}}).status_code == 200
    assert post(c, f"sessions/{sid}/finish", {"reason": {"type": "success"}}).status_code == 200
    assert server.sessions[sid].finish_reason == "errored"  # the first finish wins
    assert post(c, "session_heartbeat", {"session_id": sid}).status_code == 410
    assert server.heartbeats[sid] == 2
    r = post(c, "create_model", {"session_id": sid, "model_seq_id": 1, "base_model": MODEL})
    assert r.status_code == 400

    assert post(c, "session_heartbeat", {"session_id": "nope"}).status_code == 404
    server.expire_sessions = True
    assert post(c, "session_heartbeat", {"session_id": "nope"}).status_code == 410
    assert c.get("/api/v1/sessions/nope").status_code == 404


# ---------------------------------------------------------------------- futures


def test_create_model_with_try_agains(fake_tinker: FakeTinkerFactory) -> None:
    server = fake_tinker(try_agains=2)
    with client(server) as c:
        sid = session(c)
        r = post(c, "create_model", {"session_id": sid, "model_seq_id": 0, "base_model": MODEL})
        fut = m.UntypedAPIFuture.model_validate(r.json())
        assert fut.model_id == f"{sid}:train:0"
        replies = [
            post(c, "retrieve_future", {"request_id": fut.request_id}).json() for _ in range(3)
        ]
        for pending in replies[:2]:
            assert pending == {
                "type": "try_again",
                "request_id": fut.request_id,
                "queue_state": "active",
            }
        done = m.CreateModelResponse.model_validate(replies[2])
        assert done.model_id == f"{sid}:train:0"
        # results stay retrievable
        assert post(c, "retrieve_future", {"request_id": fut.request_id}).json() == replies[2]

        info = m.GetInfoResponse.model_validate(
            post(c, "get_info", {"model_id": done.model_id}).json()
        )
        assert info.model_data.model_name == MODEL
        assert info.lora_rank is None

        server.try_agains_by_endpoint["optim_step"] = 0
        rid = optim_step(c, done.model_id, 1)
        assert "type" not in post(c, "retrieve_future", {"request_id": rid}).json()


def test_failed_future_for_unknown_base_model(c: httpx.Client) -> None:
    sid = session(c)
    r = post(c, "create_model", {"session_id": sid, "model_seq_id": 0, "base_model": "no/such"})
    assert r.status_code == 200
    failed = m.RequestFailedResponse.model_validate(result(c, r.json()["request_id"]))
    assert failed.category == "user"
    assert "no/such" in failed.error


def test_unknown_and_expired_futures(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    r = post(c, "retrieve_future", {"request_id": "req-nope"})
    assert r.status_code == 404
    assert "detail" in r.json()
    rid = optim_step(c, model_id, 1)
    server.expire_future(rid)
    assert post(c, "retrieve_future", {"request_id": rid}).status_code == 410
    other = optim_step(c, model_id, 2)
    assert server.expire_futures("optim_step") == [rid, other]
    assert post(c, "retrieve_future", {"request_id": other}).status_code == 410


def test_metadata_only_reply_once(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    server.metadata_only = True
    rid = optim_step(c, model_id, 1)
    first = post(c, "retrieve_future", {"request_id": rid, "allow_metadata_only": True}).json()
    assert first["status"] == "complete_metadata"
    assert first["response_payload_size"] > 0
    second = post(c, "retrieve_future", {"request_id": rid, "allow_metadata_only": True}).json()
    assert m.OptimStepResponse.model_validate(second).metrics == {
        "step": 1,
        "learning_rate": 1e-4,
    }


# ---------------------------------------------------------------------- validation


def test_bad_bodies_are_422_and_unknown_ids_404(server: FakeTinker, c: httpx.Client) -> None:
    extra = post(c, "optim_step", {"model_id": "x", "bogus": 1})
    assert extra.status_code == 422
    assert extra.json()["detail"][0]["loc"] == ["bogus"]
    assert post(c, "create_model", {"model_seq_id": 0}).status_code == 422
    not_json = c.post(
        "/api/v1/optim_step", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    unknown = post(c, "optim_step", optim_body("sess:train:9", 1))
    assert unknown.status_code == 404
    assert "sess:train:9" in unknown.json()["detail"]
    assert post(c, "forward_backward", fwdbwd_body("sess:train:9", 1)).status_code == 404
    assert post(c, "get_info", {"model_id": "sess:train:9"}).status_code == 404
    assert c.get("/api/v1/no_such_endpoint").status_code == 404
    garbage = {"content": b"\x0a\x01", "headers": {"content-type": "application/x-protobuf"}}
    assert c.post("/api/v1/forward_backward", **garbage).status_code == 422  # undecodable
    server.protobuf = False  # a JSON-only server refuses the encoding itself
    assert c.post("/api/v1/forward_backward", **garbage).status_code == 415
    assert c.get("/api/v1/optim_step").status_code == 405


def test_gzip_request_bodies_are_decoded(c: httpx.Client) -> None:
    body = gzip.compress(
        json.dumps({"tags": [], "user_metadata": None, "sdk_version": "x"}).encode()
    )
    r = c.post(
        "/api/v1/create_session",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 200, r.text


# ---------------------------------------------------------------------- training


def test_forward_backward_outputs_and_loss_goes_down(c: httpx.Client, model_id: str) -> None:
    r = post(c, "forward_backward", fwdbwd_body(model_id, 1, [datum(3), datum(5, first=10)]))
    out = m.ForwardBackwardOutput.model_validate(result(c, r.json()["request_id"]))
    assert [len(o["logprobs"].data) for o in out.loss_fn_outputs] == [3, 5]
    assert all(o["logprobs"].dtype == "float32" for o in out.loss_fn_outputs)
    assert all(v < 0 for o in out.loss_fn_outputs for v in o["logprobs"].data)
    before = out.metrics["loss:sum"]
    assert before == pytest.approx(-sum(v for o in out.loss_fn_outputs for v in o["logprobs"].data))

    optim_step(c, model_id, 2)
    after = forward_backward(c, model_id, 3).metrics["loss:sum"]
    single_before = forward_backward(c, create_model(c, session(c)), 1).metrics["loss:sum"]
    assert after < single_before

    fwd = post(
        c,
        "forward",
        {
            "model_id": model_id,
            "seq_id": 4,
            "forward_input": fwdbwd_body(model_id, 0)["forward_backward_input"],
        },
    )
    forward_only = m.ForwardBackwardOutput.model_validate(result(c, fwd.json()["request_id"]))
    assert forward_only.metrics["loss:sum"] == pytest.approx(after)


def test_optim_steps_are_counted_and_seq_ids_logged(
    server: FakeTinker, c: httpx.Client, model_id: str
) -> None:
    forward_backward(c, model_id, 1)
    optim_step(c, model_id, 2)
    forward_backward(c, model_id, 3)
    optim_step(c, model_id, 4)
    assert server.optim_steps[model_id] == 2
    assert server.applied[("optim_step", model_id)] == 2
    assert server.applied[("forward_backward", model_id)] == 2
    assert server.models[model_id].weights == 2
    assert server.seq_log[model_id] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("dedupe", [True, False])
def test_resent_optim_step_with_same_idempotency_key(
    fake_tinker: FakeTinkerFactory, dedupe: bool
) -> None:
    server = fake_tinker(dedupe=dedupe)
    with client(server) as c:
        model_id = create_model(c, session(c))
        first = optim_step(c, model_id, 1, key="key-1")
        second = optim_step(c, model_id, 1, key="key-1")
        if dedupe:
            assert second == first
            assert server.optim_steps[model_id] == 1
            assert server.seq_log[model_id] == [0, 1]
            assert server.deduped == [("optim_step", "key-1")]
            assert server.seq_arrivals[model_id][-1] == (1, "optim_step", False)
        else:
            assert second != first
            assert server.optim_steps[model_id] == 2
            assert server.seq_log[model_id] == [0, 1, 1]
            assert server.deduped == []


def test_dedupe_by_model_and_seq_id(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    first = optim_step(c, model_id, 1, key="a")
    assert optim_step(c, model_id, 1, key="b") == first  # new key, same (model_id, seq_id)
    assert server.optim_steps[model_id] == 1
    clash = post(c, "forward_backward", fwdbwd_body(model_id, 1))
    assert clash.status_code == 400
    assert "optim_step" in clash.json()["detail"]


@pytest.mark.parametrize("dedupe", [True, False])
def test_drop_after_then_resend(fake_tinker: FakeTinkerFactory, dedupe: bool) -> None:
    server = fake_tinker(dedupe=dedupe)
    with client(server) as c:
        model_id = create_model(c, session(c))
        server.inject("optim_step", faults.drop_after())
        with pytest.raises(httpx.RemoteProtocolError):
            optim_step(c, model_id, 1, key="k")
        assert server.optim_steps[model_id] == 1  # applied though the client saw no reply
        rid = optim_step(c, model_id, 1, key="k")
        assert m.OptimStepResponse.model_validate(result(c, rid)).metrics is not None
        assert server.optim_steps[model_id] == (1 if dedupe else 2)


# ---------------------------------------------------------------------- faults


def test_status_fault_is_not_applied(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    server.inject("optim_step", faults.status(429, headers={"retry-after": "0"}))
    r = post(c, "optim_step", optim_body(model_id, 1))
    assert r.status_code == 429
    assert r.headers["retry-after"] == "0"
    assert r.json() == {"detail": "injected fault: HTTP 429"}
    assert server.optim_steps[model_id] == 0
    optim_step(c, model_id, 1)
    assert server.optim_steps[model_id] == 1
    assert server.faults_fired == [("optim_step", "status")]


def test_status_fault_custom_body_and_burst(
    server: FakeTinker, c: httpx.Client, model_id: str
) -> None:
    rid = optim_step(c, model_id, 1)
    server.inject("retrieve_future", faults.status(503, body="upstream busy"), times=3)
    codes = [post(c, "retrieve_future", {"request_id": rid}).status_code for _ in range(4)]
    assert codes == [503, 503, 503, 200]
    server.inject("/api/v1/retrieve_future", faults.status(402, body={"detail": "pay"}))
    r = post(c, "retrieve_future", {"request_id": rid})
    assert (r.status_code, r.json()) == (402, {"detail": "pay"})


def test_faults_fire_in_injection_order(server: FakeTinker, c: httpx.Client) -> None:
    server.inject("health_check", faults.status(500))
    server.inject("healthz", faults.status(502))
    server.inject("*", faults.status(408))
    codes = [c.get("/api/v1/healthz").status_code for _ in range(4)]
    assert codes == [500, 502, 408, 200]
    assert server.pending_faults == []


def test_drop_before_is_not_applied(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    server.inject("optim_step", faults.drop_before())
    with pytest.raises(httpx.RemoteProtocolError):
        post(c, "optim_step", optim_body(model_id, 1))
    assert server.optim_steps[model_id] == 0
    assert server.requests[-1].endpoint == "optim_step"
    optim_step(c, model_id, 1)
    assert server.optim_steps[model_id] == 1


def test_truncate_after_is_applied(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    server.inject("optim_step", faults.truncate_after())
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        post(c, "optim_step", optim_body(model_id, 1))
    assert server.optim_steps[model_id] == 1


@pytest.mark.parametrize("apply", [True, False])
def test_delay_past_the_client_timeout(server: FakeTinker, model_id: str, apply: bool) -> None:
    server.inject("optim_step", faults.delay(0.6, apply=apply))
    with client(server, timeout=0.15) as slow, pytest.raises(httpx.ReadTimeout):
        post(slow, "optim_step", optim_body(model_id, 1))
    assert server.optim_steps[model_id] == (1 if apply else 0)
    time.sleep(0.6)  # the handler has finished sleeping: still (not) applied, no server error
    assert server.optim_steps[model_id] == (1 if apply else 0)


def test_short_delay_replies_normally(server: FakeTinker, c: httpx.Client) -> None:
    server.inject("healthz", faults.delay(0.3))
    started = time.monotonic()
    assert c.get("/api/v1/healthz").json() == {"status": "ok"}
    assert time.monotonic() - started >= 0.3


def test_malformed_json_is_applied(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    server.inject("optim_step", faults.malformed_json())
    r = post(c, "optim_step", optim_body(model_id, 1))
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert server.optim_steps[model_id] == 1


def test_bad_schema_violates_the_response_models(
    server: FakeTinker, c: httpx.Client, model_id: str
) -> None:
    server.inject("optim_step", faults.bad_schema())
    r = post(c, "optim_step", optim_body(model_id, 1))
    assert r.status_code == 200
    with pytest.raises(ValidationError):
        m.UntypedAPIFuture.model_validate(r.json())
    assert server.optim_steps[model_id] == 1

    rid = optim_step(c, model_id, 2)
    server.inject("retrieve_future", faults.bad_schema())
    with pytest.raises(ValidationError):  # OptimStepResponse has no required field: mistyped
        m.OptimStepResponse.model_validate(post(c, "retrieve_future", {"request_id": rid}).json())
    server.inject("get_info", faults.bad_schema())
    with pytest.raises(ValidationError):
        m.GetInfoResponse.model_validate(post(c, "get_info", {"model_id": model_id}).json())


def test_fail_fault_resolves_the_future_to_an_error(
    server: FakeTinker, c: httpx.Client, model_id: str
) -> None:
    server.inject("optim_step", faults.fail("boom", category="server"))
    rid = optim_step(c, model_id, 1)
    assert result(c, rid) == {"error": "boom", "category": "server"}
    assert server.optim_steps[model_id] == 0

    ok = optim_step(c, model_id, 2)
    server.inject("retrieve_future", faults.fail("once"))
    assert post(c, "retrieve_future", {"request_id": ok}).json()["error"] == "once"
    assert "metrics" in post(c, "retrieve_future", {"request_id": ok}).json()


# ---------------------------------------------------------------------- checkpoints, sampling


def test_checkpoints_and_training_runs(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    save = post(c, "save_weights", {"model_id": model_id, "path": "step-1", "seq_id": 1})
    path = m.SaveWeightsResponse.model_validate(result(c, save.json()["request_id"])).path
    assert path == f"tinker://{model_id}/weights/step-1"
    again = post(c, "save_weights", {"model_id": model_id, "path": "step-1", "seq_id": 2})
    assert "already exists" in result(c, again.json()["request_id"])["error"]
    over = post(
        c, "save_weights", {"model_id": model_id, "path": "step-1", "seq_id": 3, "overwrite": True}
    )
    assert "path" in result(c, over.json()["request_id"])
    auto = post(c, "save_weights", {"model_id": model_id, "seq_id": 4})
    assert result(c, auto.json()["request_id"])["path"].endswith("/weights/000004")

    listed = m.CheckpointsListResponse.model_validate(
        c.get(f"/api/v1/training_runs/{model_id}/checkpoints").json()
    )
    assert sorted(ck.checkpoint_id for ck in listed.checkpoints) == [
        "weights/000004",
        "weights/step-1",
    ]
    everything = m.CheckpointsListResponse.model_validate(
        c.get("/api/v1/checkpoints?limit=1").json()
    )
    assert everything.cursor is not None
    assert (len(everything.checkpoints), everything.cursor.total_count) == (1, 2)

    runs = m.TrainingRunsResponse.model_validate(c.get("/api/v1/training_runs").json())
    assert [run.training_run_id for run in runs.training_runs] == [model_id]
    run = m.TrainingRun.model_validate(c.get(f"/api/v1/training_runs/{model_id}").json())
    assert (run.is_lora, run.lora_rank, run.base_model) == (True, 8, MODEL)
    assert c.get("/api/v1/training_runs/nope").status_code == 404

    info = m.WeightsInfoResponse.model_validate(
        post(c, "weights_info", {"tinker_path": path}).json()
    )
    assert (info.base_model, info.lora_rank) == (MODEL, 8)
    assert post(c, "weights_info", {"tinker_path": "tinker://x/weights/y"}).status_code == 404

    base = f"/api/v1/training_runs/{model_id}/checkpoints"
    assert c.delete(f"{base}/weights/step-1").status_code == 200
    assert c.delete(f"{base}/weights%2F000004").status_code == 200
    assert c.delete(f"{base}/weights/step-1").status_code == 404
    assert server.checkpoints == {}


def test_load_weights_both_addressing_modes(server: FakeTinker, c: httpx.Client) -> None:
    sid = session(c)
    model_id = create_model(c, sid)
    optim_step(c, model_id, 1)
    optim_step(c, model_id, 2)
    path = result(
        c,
        post(c, "save_weights", {"model_id": model_id, "path": "s2", "seq_id": 3}).json()[
            "request_id"
        ],
    )["path"]
    loss_at_2 = forward_backward(c, model_id, 4).metrics["loss:sum"]

    body = {"session_id": sid, "model_seq_id": 1, "path": path, "optimizer": True}
    loaded = m.LoadWeightsResponse.model_validate(
        result(c, post(c, "load_weights", body).json()["request_id"])
    )
    assert loaded.model_id == f"{sid}:train:1"
    assert forward_backward(c, loaded.model_id, 1).metrics["loss:sum"] == pytest.approx(loss_at_2)
    assert server.seq_log[loaded.model_id] == [0, 1]

    optim_step(c, model_id, 5)
    legacy = {"model_id": model_id, "seq_id": 6, "path": path, "optimizer": False}
    assert "model_id" in result(c, post(c, "load_weights", legacy).json()["request_id"])
    assert server.models[model_id].weights == 2
    missing = dict(legacy, seq_id=7, path=f"tinker://{model_id}/weights/none")
    assert result(c, post(c, "load_weights", missing).json()["request_id"])["category"] == "user"
    assert post(c, "load_weights", {"path": path, "optimizer": False}).status_code == 422


def test_unload_model(c: httpx.Client, model_id: str) -> None:
    r = post(c, "unload_model", {"model_id": model_id})
    assert (
        m.UnloadModelResponse.model_validate(result(c, r.json()["request_id"])).model_id == model_id
    )
    assert post(c, "optim_step", optim_body(model_id, 1)).status_code == 400


def test_sampling(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    eph = post(
        c,
        "save_weights_for_sampler",
        {"model_id": model_id, "sampling_session_seq_id": 0, "seq_id": 1},
    )
    saved = m.SaveWeightsForSamplerResponseInternal.model_validate(
        result(c, eph.json()["request_id"])
    )
    assert saved.path is None
    sampler = saved.sampling_session_id
    assert sampler == f"{server.models[model_id].session_id}:sample:0"

    prompt = {"chunks": [{"tokens": [5, 6, 7, 8], "type": "encoded_text"}]}
    body = {
        "num_samples": 3,
        "prompt": prompt,
        "sampling_params": {"max_tokens": 4},
        "sampling_session_id": sampler,
        "seq_id": 0,
        "prompt_logprobs": True,
    }
    fut = m.UntypedAPIFuture.model_validate(post(c, "asample", body).json())
    assert fut.sample_sequence_ids is not None
    assert len(set(fut.sample_sequence_ids)) == 3
    out = m.SampleResponse.model_validate(result(c, fut.request_id))
    assert [len(s.tokens) for s in out.sequences] == [4, 4, 4]
    assert {s.stop_reason for s in out.sequences} == {"length"}
    assert out.prompt_logprobs is not None
    assert out.prompt_logprobs[0] is None
    assert len(out.prompt_logprobs) == 4
    assert all(lp is not None for lp in out.prompt_logprobs[1:])
    assert server.seq_log[sampler] == [0]

    stop_at = out.sequences[0].tokens[1]
    stopped_body = dict(body, num_samples=1, seq_id=1, prompt_logprobs=False)
    stopped_body["sampling_params"] = {"max_tokens": 4, "stop": [stop_at]}
    stopped = m.SampleResponse.model_validate(
        result(c, post(c, "asample", stopped_body).json()["request_id"])
    )
    assert stopped.sequences[0].tokens == out.sequences[0].tokens[:2]
    assert stopped.sequences[0].stop_reason == "stop"
    assert stopped.prompt_logprobs is None

    named = post(c, "save_weights_for_sampler", {"model_id": model_id, "path": "s", "seq_id": 2})
    sampler_path = result(c, named.json()["request_id"])["path"]
    assert sampler_path == f"tinker://{model_id}/sampler_weights/s"
    sid = server.models[model_id].session_id
    created = post(
        c,
        "create_sampling_session",
        {"session_id": sid, "sampling_session_seq_id": 1, "model_path": sampler_path},
    )
    new_sampler = m.CreateSamplingSessionResponse.model_validate(created.json()).sampling_session_id
    got = m.GetSamplerResponse.model_validate(c.get(f"/api/v1/samplers/{new_sampler}").json())
    assert (got.base_model, got.model_path) == (MODEL, sampler_path)
    assert c.get("/api/v1/samplers/nope").status_code == 404
    assert post(c, "asample", dict(body, sampling_session_id="nope")).status_code == 404


# ---------------------------------------------------------------------- misc


def test_capabilities_and_telemetry(server: FakeTinker, c: httpx.Client) -> None:
    server.base_models = ["a/one", "b/two"]
    caps = m.GetServerCapabilitiesResponse.model_validate(
        c.get("/api/v1/get_server_capabilities").json()
    )
    assert [s.model_name for s in caps.supported_models] == ["a/one", "b/two"]

    event = {
        "event": "GENERIC_EVENT",
        "event_id": "e1",
        "event_session_index": 0,
        "severity": "INFO",
        "timestamp": "2025-01-01T00:00:00Z",
        "event_name": "hello",
        "event_data": {"x": 1},
    }
    batch = {
        "events": [event],
        "platform": "Linux",
        "sdk_version": "0",
        "session_id": "s",
        "process_uuid": "p",
    }
    assert post(c, "telemetry", batch).json() == {"status": "accepted"}
    assert server.telemetry == [event]
    assert server.telemetry_batches == [batch]
    assert post(c, "telemetry", {"events": []}).status_code == 422


def test_requests_log(server: FakeTinker, c: httpx.Client, model_id: str) -> None:
    optim_step(c, model_id, 1, key="abc")
    method, path, headers, body = last = server.requests[-1]
    assert last == ("POST", "/api/v1/optim_step", headers, body)
    assert (method, path) == ("POST", "/api/v1/optim_step")
    assert headers["x-idempotency-key"] == "abc"
    assert body == optim_body(model_id, 1)
    c.get("/api/v1/checkpoints", params={"limit": 5})
    assert server.requests[-1].query == {"limit": "5"}
    assert [r.endpoint for r in server.requests_to("optim_step")] == ["optim_step"]
