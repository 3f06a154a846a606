"""The loss computed on the client when the server sends no metrics (skyrl-tx's ``{}``)."""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import numpy as np
import pytest

import tinkex as tinker
from tests.clients.conftest import BASE_MODEL, WAIT, ServiceFactory, datum
from tests.fake_tinker import FakeTinker
from tests.fake_tinker.plugin import FakeTinkerFactory
from tests.fake_tinker.state import token_logprob
from tinkex import types
from tinkex._client_loss import CLIENT_COMPUTED_KEY, add_client_loss, client_loss


def _training(server: FakeTinker, make_service: ServiceFactory) -> tinker.TrainingClient:
    service = make_service(server)
    return service.create_lora_training_client(BASE_MODEL, rank=4).result(timeout=WAIT)


def _nll(targets: list[int], weights: list[float]) -> float:
    return -sum(
        w * token_logprob(t, i, 0) for i, (t, w) in enumerate(zip(targets, weights, strict=True))
    )


@pytest.mark.parametrize("client_config", [False, True], ids=["json", "protobuf"])
@pytest.mark.parametrize("method", ["forward", "forward_backward"])
def test_loss_is_computed_when_the_server_sends_no_metrics(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory, client_config: bool, method: str
) -> None:
    server = fake_tinker(client_config=client_config)
    server.loss_metrics = False
    training = _training(server, make_service)
    data = [datum([1, 2, 3, 4], [1.0, 0.0, 2.0]), datum([7, 8, 9])]
    out = getattr(training, method)(data, "cross_entropy").result()
    expected = _nll([2, 3, 4], [1.0, 0.0, 2.0]) + _nll([8, 9], [1.0, 1.0])
    assert out.metrics["loss:sum"] == pytest.approx(expected, rel=1e-6)
    assert out.metrics["loss:mean"] == pytest.approx(expected / 5.0, rel=1e-6)
    assert out.metrics[CLIENT_COMPUTED_KEY] == 1.0


def test_a_chunked_batch_gets_the_loss_of_the_whole_batch(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker(client_config=True)
    server.config_flags["fwdbwd_max_chunk_len"] = 2
    server.loss_metrics = False
    training = _training(server, make_service)
    data = [datum([1, 2, 3]), datum([4, 5, 6]), datum([7, 8, 9])]
    out = training.forward_backward(data, "cross_entropy").result()
    assert len(server.requests_to("forward_backward")) == 2
    expected = sum(_nll(t, [1.0, 1.0]) for t in ([2, 3], [5, 6], [8, 9]))
    assert out.metrics["loss:sum"] == pytest.approx(expected, rel=1e-6)
    assert out.metrics["loss:mean"] == pytest.approx(expected / 6, rel=1e-6)


def test_the_servers_loss_is_kept_and_not_marked(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    out = training.forward_backward([datum([1, 2, 3])], "cross_entropy").result()
    assert set(out.metrics) == {"loss:sum"}  # the server's, alone


def test_losses_that_cannot_be_computed_exactly_stay_absent(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker()
    server.loss_metrics = False
    training = _training(server, make_service)
    for loss_fn in ("cispo", "dro"):
        out = training.forward_backward([datum([1, 2, 3])], loss_fn).result()
        assert out.metrics == {}, loss_fn


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs torch (pip install 'tinkex[torch]')"
)
def test_a_client_side_custom_loss_keeps_its_own_loss_unmarked(
    fake_tinker: FakeTinkerFactory, make_service: ServiceFactory
) -> None:
    server = fake_tinker()
    server.loss_metrics = False
    training = _training(server, make_service)

    def loss_fn(batch: list[types.Datum], logprobs: list[Any]) -> tuple[Any, dict[str, float]]:
        return sum(-2.0 * lp.sum() for lp in logprobs), {}

    out = training.forward_backward_custom([datum([1, 2, 3])], loss_fn).result()
    assert out.metrics["loss:sum"] == pytest.approx(2.0 * _nll([2, 3], [1.0, 1.0]), rel=1e-5)
    assert CLIENT_COMPUTED_KEY not in out.metrics


# ---------------------------------------------------------------------- the formulas

Output = types.ForwardBackwardOutput


def _output(*logprobs: list[float], metrics: dict[str, float] | None = None) -> Output:
    return types.ForwardBackwardOutput(
        loss_fn_output_type="ArrayRecord",
        loss_fn_outputs=[
            {"logprobs": types.TensorData.from_numpy(np.array(lp, dtype=np.float32))}
            for lp in logprobs
        ],
        metrics=metrics or {},
    )


def _rl_datum(sampler: list[float], advantages: list[float], **extra: list[float]) -> types.Datum:
    return types.Datum(
        model_input=types.ModelInput.from_ints([1] * len(sampler)),
        loss_fn_inputs={
            "target_tokens": [2] * len(sampler),
            "logprobs": sampler,
            "advantages": advantages,
            **extra,
        },
    )


def test_importance_sampling_loss() -> None:
    lps = [-1.0, -0.5]
    sampler = [-1.2, -0.4]
    adv = [2.0, -1.0]
    got = client_loss(_output(lps), [_rl_datum(sampler, adv)], "importance_sampling")
    expected = -sum(math.exp(a - b) * c for a, b, c in zip(lps, sampler, adv, strict=True))
    assert got is not None
    assert got["loss:sum"] == pytest.approx(expected, rel=1e-6)
    assert got["loss:mean"] == pytest.approx(expected / 2, rel=1e-6)


@pytest.mark.parametrize(
    ("config", "low", "high"),
    [(None, 0.8, 1.2), ({"clip_low_threshold": 0.9, "clip_high_threshold": 1.1}, 0.9, 1.1)],
)
def test_ppo_loss_clips_the_ratio(config: dict[str, float] | None, low: float, high: float) -> None:
    lps = [-0.5, -2.0, -1.0]
    sampler = [-1.0, -1.0, -1.0]  # ratios e^0.5 (clipped high), e^-1 (clipped low), 1
    adv = [1.0, -1.0, 3.0]
    got = client_loss(_output(lps), [_rl_datum(sampler, adv)], "ppo", config)
    expected = 0.0
    for a, b, c in zip(lps, sampler, adv, strict=True):
        ratio = math.exp(a - b)
        expected -= min(ratio * c, min(max(ratio, low), high) * c)
    assert got is not None
    assert got["loss:sum"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("data", "loss_fn"),
    [
        ([datum([1, 2, 3])], "gspo"),
        ([datum([1, 2, 3])], "custom"),
        ([datum([1, 2, 3, 4])], "cross_entropy"),  # 3 weights, 2 logprobs
        ([datum([1, 2, 3]), datum([4, 5, 6])], "cross_entropy"),  # 2 datums, 1 output
        ([_rl_datum([-1.0], [1.0])], "importance_sampling"),  # sampler logprobs too short
        ([_rl_datum([-1.0, -1.0], [1.0, 1.0], clip_low_threshold=[0.5, 0.5])], "ppo"),
    ],
)
def test_nothing_is_computed_where_it_would_be_a_guess(
    data: list[types.Datum], loss_fn: str
) -> None:
    assert client_loss(_output([-1.0, -2.0]), data, loss_fn) is None


def test_server_metrics_are_never_replaced() -> None:
    out = _output([-1.0, -2.0], metrics={"loss:sum": 42.0})
    assert add_client_loss(out, [datum([1, 2, 3])], "cross_entropy").metrics == {"loss:sum": 42.0}
    out = _output([-1.0, -2.0], metrics={"loss:mean": 7.0, "other:max": 1.0})
    metrics = add_client_loss(out, [datum([1, 2, 3])], "cross_entropy").metrics
    assert metrics == {
        "loss:sum": 3.0,
        "loss:mean": 7.0,
        "other:max": 1.0,
        CLIENT_COMPUTED_KEY: 1.0,
    }


def test_zero_weights_give_a_sum_and_no_mean() -> None:
    got = client_loss(_output([-1.0, -2.0]), [datum([1, 2, 3], [0.0, 0.0])], "cross_entropy")
    assert got == {"loss:sum": 0.0, CLIENT_COMPUTED_KEY: 1.0}
