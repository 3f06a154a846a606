"""A pipeline as the loss of ``TrainingClient.forward_backward_custom`` on the fake server."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import tinkex as tinker  # noqa: E402
from tests.clients.conftest import datum  # noqa: E402
from tests.fake_tinker import FakeTinker  # noqa: E402
from tinkex import types  # noqa: E402
from tinkex.regularizers import (  # noqa: E402
    L2,
    Entropy,
    KLDivergence,
    Pipeline,
    RegularizerError,
    Term,
    cross_entropy,
)


def _with_reference(d: types.Datum, values: list[float]) -> types.Datum:
    inputs = dict(d.loss_fn_inputs)
    inputs["reference_logprobs"] = types.TensorData.from_list(values, "float32")
    return types.Datum(model_input=d.model_input, loss_fn_inputs=inputs)


def test_each_term_appears_in_the_step_metrics_and_its_gradient_is_sent(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    data = [
        _with_reference(datum([1, 2, 3, 4]), [-1.0, -1.0, -1.0]),
        _with_reference(datum([5, 6, 7]), [-2.0, -2.0]),
    ]
    pipeline = Pipeline(
        cross_entropy,
        [
            Term(L2(), weight=0.01),
            Term(KLDivergence(), weight=0.5),
            Term(Entropy(mode="maximize"), weight=0.1),
        ],
        track_grad_norms=True,
    )

    out = training.forward_backward_custom(data, pipeline).result()

    # The same pipeline on the logprobs the server returned gives the expected numbers.
    lps = [
        torch.tensor(o["logprobs"].data, dtype=torch.float32, requires_grad=True)
        for o in out.loss_fn_outputs
    ]
    total, expected = pipeline(data, lps)
    total.backward()
    m = out.metrics
    for key in (
        "base_loss:value",
        "base_loss:grad_norm",
        "reg/l2:value",
        "reg/l2:weighted",
        "reg/l2:grad_norm",
        "reg/kl_divergence:value",
        "reg/kl_divergence:weighted",
        "reg/kl_divergence:grad_norm",
        "reg/kl_divergence/mean_log_ratio",
        "reg/entropy:value",
        "reg/entropy:weighted",
        "reg/entropy:grad_norm",
    ):
        assert m[key] == pytest.approx(expected[key], rel=1e-5), key
    assert m["reg/kl_divergence:weighted"] == pytest.approx(0.5 * m["reg/kl_divergence:value"])
    assert m["loss:sum"] == pytest.approx(
        m["base_loss:value"]
        + m["reg/l2:weighted"]
        + m["reg/kl_divergence:weighted"]
        + m["reg/entropy:weighted"],
        rel=1e-5,
    )
    assert "surrogate_loss:sum" in m
    # The server is asked for the gradient of the whole objective: weights = -d total / d lp.
    (backward,) = server.requests_to("forward_backward")
    sent = [
        d["loss_fn_inputs"]["weights"]["data"]
        for d in backward.json["forward_backward_input"]["data"]
    ]
    for got, lp in zip(sent, lps, strict=True):
        assert lp.grad is not None
        assert got == pytest.approx((-lp.grad).tolist(), rel=1e-5, abs=1e-7)
        assert got != pytest.approx([1.0] * len(got))  # the terms changed the plain weights
    # The reference logprobs stayed on the client.
    assert all(
        set(d["loss_fn_inputs"]) == {"target_tokens", "weights"}
        for d in backward.json["forward_backward_input"]["data"]
    )
    training.optim_step().result()


def test_a_bad_regularizer_fails_the_step_with_its_name(
    server: FakeTinker, training: tinker.TrainingClient
) -> None:
    pipeline = Pipeline(cross_entropy, [Term(lambda d, lps: torch.cat(lps), 0.1, name="vec")])
    future = training.forward_backward_custom([datum([1, 2, 3])], pipeline)
    with pytest.raises(RegularizerError, match=r"regularizer 'vec': .*not a scalar"):
        future.result()
    assert server.requests_to("forward_backward") == []  # no gradient was sent
    # The failed step's backward ids were given up: the client's next call is not stuck behind them.
    training.optim_step().result()
    assert server.seq_log[training.model_id] == [0, 1, 3]
