"""The pipeline: base loss + weighted terms, the metrics it reports, and what it refuses."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from tests.regularizers._support import datum, grads, logprobs  # noqa: E402
from tinkex.regularizers import (  # noqa: E402
    L1,
    L2,
    KLDivergence,
    Pipeline,
    RegularizerError,
    Term,
    cross_entropy,
)


def test_total_is_base_plus_weighted_terms_and_each_term_is_reported() -> None:
    pipeline = Pipeline(cross_entropy, [Term(L2(), weight=0.1), Term(L1(), weight=2.0)])
    lps = logprobs([-1.0, -2.0])
    total, metrics = pipeline([datum(2)], lps)
    # base -(-1 - 2) = 3; L2 (1 + 4) / 2 = 2.5; L1 (1 + 2) / 2 = 1.5
    assert total.item() == pytest.approx(3 + 0.1 * 2.5 + 2.0 * 1.5)
    assert metrics == pytest.approx(
        {
            "base_loss:value": 3.0,
            "reg/l2:value": 2.5,
            "reg/l2:weighted": 0.25,
            "reg/l1:value": 1.5,
            "reg/l1:weighted": 3.0,
        }
    )
    # d/dlp: -1 (base) + 0.1 * lp (L2) + 2 * -0.5 (L1)
    assert grads(total, lps) == pytest.approx([-1 - 0.1 - 1, -1 - 0.2 - 1])


def test_gradient_norms_of_each_weighted_term() -> None:
    pipeline = Pipeline(
        cross_entropy, [Term(L2(), weight=0.1), Term(L1(), weight=2.0)], track_grad_norms=True
    )
    _, metrics = pipeline([datum(2)], logprobs([-1.0, -2.0]))
    assert metrics["base_loss:grad_norm"] == pytest.approx(math.sqrt(2))  # |(-1, -1)|
    assert metrics["reg/l2:grad_norm"] == pytest.approx(0.1 * math.sqrt(5))  # 0.1 |(-1, -2)|
    assert metrics["reg/l1:grad_norm"] == pytest.approx(2 * math.sqrt(0.5))  # 2 |(-.5, -.5)|


def test_gradient_norms_need_logprobs_with_gradients() -> None:
    pipeline = Pipeline(cross_entropy, [Term(L2(), weight=0.1)], track_grad_norms=True)
    total, metrics = pipeline([datum(2)], [torch.tensor([-1.0, -2.0])])  # evaluation only
    assert total.item() == pytest.approx(3.25)
    assert not any(k.endswith(":grad_norm") for k in metrics)


def test_metrics_of_the_base_loss_and_of_regularizers_are_passed_on() -> None:
    def base(data: list[Any], lps: list[torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return -torch.cat(lps).sum(), {"nll:sum": 3.0}

    pipeline = Pipeline(base, [Term(KLDivergence(estimator="k1"), weight=1.0)])
    _, metrics = pipeline([datum(2, reference_logprobs=[-2.0, -2.0])], logprobs([-1.0, -2.0]))
    assert metrics["nll:sum"] == 3.0
    assert metrics["reg/kl_divergence/mean_log_ratio"] == pytest.approx(0.5)
    assert metrics["reg/kl_divergence:value"] == pytest.approx(0.5)


def test_plain_functions_are_regularizers_named_by_their_function() -> None:
    def spread(data: list[Any], lps: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(lps).std()

    pipeline = Pipeline(
        cross_entropy, [Term(spread, weight=1.0), Term(L2(), weight=1.0, name="l2-probs")]
    )
    _, metrics = pipeline([datum(2)], logprobs([-1.0, -3.0]))
    assert metrics["reg/spread:value"] == pytest.approx(math.sqrt(2))
    assert "reg/l2-probs:value" in metrics


def test_terms_must_have_distinct_names() -> None:
    with pytest.raises(ValueError, match=r"names must differ.*\['l2'\]"):
        Pipeline(cross_entropy, [Term(L2(), 0.1), Term(L2(), 0.2)])
    with pytest.raises(ValueError, match="base_loss"):
        Pipeline(cross_entropy, [Term(L2(), 0.1, name="base_loss")])
    with pytest.raises(ValueError, match="letters, digits"):
        Term(L2(), 0.1, name="l2:x")
    with pytest.raises(TypeError, match="Term"):
        Pipeline(cross_entropy, [(L2(), 0.1)])  # type: ignore[list-item]


@pytest.mark.parametrize("weight", [-0.1, float("nan"), float("inf"), True, "0.1", None])
def test_bad_weights_fail_at_construction_naming_the_regularizer(weight: Any) -> None:
    with pytest.raises(ValueError, match=r"regularizer 'l2': weight must be a finite number >= 0"):
        Term(L2(), weight=weight)


# ---------------------------------------------------------------------- bad output


def _run(regularizer: Any, lps: list[torch.Tensor] | None = None) -> None:
    lps = lps if lps is not None else logprobs([-1.0, -2.0])
    Pipeline(cross_entropy, [Term(regularizer, weight=1.0, name="bad")])([datum(2)], lps)


@pytest.mark.parametrize(
    ("regularizer", "message"),
    [
        (lambda d, lps: torch.cat(lps), r"shape \(2,\), not a scalar: reduce it"),
        (lambda d, lps: torch.cat(lps).sum().reshape(1), r"shape \(1,\), not a scalar"),
        (lambda d, lps: torch.cat(lps).sum() * float("nan"), "returned nan: .* must be finite"),
        (lambda d, lps: torch.cat(lps).sum() / 0.0, "returned -inf: .* must be finite"),
        (lambda d, lps: torch.tensor(1.0), r"without a gradient \(requires_grad is False\)"),
        (lambda d, lps: torch.cat(lps).sum().detach(), "without a gradient"),
        (lambda d, lps: 1.5, "returned float, not a torch tensor"),
        (lambda d, lps: (torch.cat(lps).sum(), {"x": "high"}), "metric 'x' is 'high'"),
        (lambda d, lps: (torch.cat(lps).sum(), 1, 2), r"not \(tensor, metrics\)"),
    ],
)
def test_bad_regularizer_output_is_named(regularizer: Any, message: str) -> None:
    with pytest.raises(RegularizerError, match=message) as info:
        _run(regularizer)
    assert info.value.name == "bad"
    assert str(info.value).startswith("regularizer 'bad': ")


def test_a_constant_is_fine_when_no_gradient_is_wanted() -> None:
    _run(lambda d, lps: torch.tensor(1.0), [torch.tensor([-1.0, -2.0])])


def test_bad_base_loss_is_named_base_loss() -> None:
    pipeline = Pipeline(lambda d, lps: torch.cat(lps), [])
    with pytest.raises(RegularizerError, match=r"regularizer 'base_loss': .*not a scalar"):
        pipeline([datum(2)], logprobs([-1.0, -2.0]))


def test_an_exception_inside_a_regularizer_says_which() -> None:
    def broken(data: list[Any], lps: list[torch.Tensor]) -> torch.Tensor:
        raise KeyError("advantages")

    with pytest.raises(KeyError) as info:
        _run(broken)
    assert "raised by regularizer 'bad'" in info.value.__notes__


def test_importing_the_module_does_not_import_torch() -> None:
    code = (
        "import sys, tinkex, tinkex.regularizers as r; r.Term(r.L2(), 0.1); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
