"""Each built-in regularizer's value and gradient on a batch small enough to work out by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from tests.regularizers._support import datum, flat, grads, logprobs  # noqa: E402
from tinkex.regularizers import (  # noqa: E402
    L1,
    L2,
    Consistency,
    ElasticNet,
    Entropy,
    GradientPenalty,
    KLDivergence,
    Orthogonality,
    RegularizerError,
    cross_entropy,
)

LN2, LN3 = math.log(2), math.log(3)
HALF, QUARTER = math.log(0.5), math.log(0.25)


def approx(values: float | list[list[float]]) -> object:
    """Equal to 1e-9; a per-datum list of gradients is compared flat (as ``grads`` gives it)."""
    return pytest.approx(flat(values) if isinstance(values, list) else values, abs=1e-9)


# ---------------------------------------------------------------------- L1, L2, elastic net


def test_l1_on_logprobs_is_the_mean_negative_logprob() -> None:
    lps = logprobs([-1.0, -2.0])
    value = L1()([datum(2)], lps)
    assert value.item() == approx(1.5)
    assert grads(value, lps) == approx([[-0.5, -0.5]])


def test_positions_with_weight_zero_are_left_out() -> None:
    lps = logprobs([-4.0, -1.0, -2.0])
    value = L1()([datum(3, weights=[0.0, 1.0, 1.0])], lps)
    assert value.item() == approx(1.5)
    assert grads(value, lps) == approx([[0.0, -0.5, -0.5]])


def test_l1_on_probabilities_is_the_mean_probability() -> None:
    lps = logprobs([HALF, QUARTER])
    value = L1(of="probs")([datum(2)], lps)
    assert value.item() == approx(0.375)
    assert grads(value, lps) == approx([[0.25, 0.125]])  # d p / d logprob = p, over 2 tokens


def test_l2_on_logprobs_and_on_probabilities() -> None:
    lps = logprobs([-1.0], [-2.0])  # two datums: the mean runs over all their tokens
    value = L2()([datum(1), datum(1)], lps)
    assert value.item() == approx(2.5)
    assert grads(value, lps) == approx([[-1.0], [-2.0]])  # 2 * logprob / 2
    lps = logprobs([HALF, QUARTER])
    value = L2(of="probs")([datum(2)], lps)
    assert value.item() == approx((0.25 + 0.0625) / 2)
    assert grads(value, lps) == approx([[0.25, 0.0625]])  # d p^2 / d logprob = 2 p^2, over 2


def test_elastic_net_mixes_l1_and_l2() -> None:
    lps = logprobs([-1.0, -2.0])
    value = ElasticNet(l1_ratio=0.25)([datum(2)], lps)
    assert value.item() == approx(0.25 * 1.5 + 0.75 * 2.5)
    assert grads(value, lps) == approx([[0.25 * -0.5 + 0.75 * -1.0, 0.25 * -0.5 + 0.75 * -2.0]])


# ---------------------------------------------------------------------- entropy


def test_entropy_is_the_binary_entropy_of_each_target_probability() -> None:
    lps = logprobs([QUARTER, HALF])
    h_quarter = -0.25 * QUARTER - 0.75 * math.log(0.75)
    value = Entropy()([datum(2)], lps)
    assert value.item() == approx((h_quarter + LN2) / 2)
    # dH/dlogprob = p * ln((1 - p) / p): 0.25 ln 3 at p = 1/4, 0 at p = 1/2 (the maximum)
    assert grads(value, lps) == approx([[0.25 * LN3 / 2, 0.0]])
    lps = logprobs([QUARTER, HALF])
    value = Entropy(mode="maximize")([datum(2)], lps)
    assert value.item() == approx(-(h_quarter + LN2) / 2)
    assert grads(value, lps) == approx([[-0.25 * LN3 / 2, 0.0]])


def test_entropy_stays_finite_at_probability_one() -> None:
    lps = logprobs([0.0])
    value = Entropy()([datum(1)], lps)
    assert math.isfinite(value.item())
    assert all(math.isfinite(g) for g in grads(value, lps))


# ---------------------------------------------------------------------- KL divergence


def test_kl_k3_against_reference_logprobs_in_the_datum() -> None:
    batch = [datum(2, reference_logprobs=[QUARTER, HALF])]
    lps = logprobs([HALF, QUARTER])
    value, metrics = KLDivergence()(batch, lps)
    # r = ref - lp = (-ln 2, ln 2); exp(r) - r - 1 = (ln 2 - 1/2, 1 - ln 2); mean 1/4
    assert value.item() == approx(0.25)
    assert grads(value, lps) == approx([[0.25, -0.5]])  # (1 - exp(r)) / 2
    assert metrics == {"mean_log_ratio": approx(0.0)}


def test_kl_k1_and_k2_and_a_reference_function() -> None:
    batch = [datum(2)]
    lps = logprobs([HALF, QUARTER])
    k2 = KLDivergence(estimator="k2", reference=lambda data: [[QUARTER, QUARTER]])
    value, metrics = k2(batch, lps)
    assert value.item() == approx(0.5 * LN2**2 / 2)  # r = (-ln 2, 0)
    assert grads(value, lps) == approx([[LN2 / 2, 0.0]])
    assert metrics["mean_log_ratio"] == pytest.approx(LN2 / 2, abs=1e-6)
    lps = logprobs([HALF, QUARTER])
    value, _ = KLDivergence(estimator="k1", reference=lambda data: [[QUARTER, QUARTER]])(batch, lps)
    assert value.item() == approx(LN2 / 2)
    assert grads(value, lps) == approx([[0.5, 0.5]])


def test_kl_without_a_reference_says_which_key_to_add() -> None:
    with pytest.raises(RegularizerError, match=r"'kl_divergence'.*reference_logprobs") as info:
        KLDivergence()([datum(2)], logprobs([-1.0, -2.0]))
    assert info.value.name == "kl_divergence"
    with pytest.raises(RegularizerError, match="has 3 values but the datum has 2 logprobs"):
        KLDivergence()([datum(2, reference_logprobs=[-1.0, -1.0, -1.0])], logprobs([-1.0, -2.0]))


# ---------------------------------------------------------------------- consistency


def test_consistency_of_consecutive_pairs() -> None:
    lps = logprobs([-1.0, -2.0], [-2.0, -2.0])
    value = Consistency()([datum(2), datum(2)], lps)
    assert value.item() == approx(0.5)
    assert grads(value, lps) == approx([[1.0, 0.0], [-1.0, 0.0]])
    lps = logprobs([-1.0, -2.0], [-2.0, -2.0])
    value = Consistency(metric="mae")([datum(2), datum(2)], lps)
    assert value.item() == approx(0.5)
    assert grads(value, lps) == approx([[0.5, 0.0], [-0.5, 0.0]])


def test_consistency_with_explicit_pairs_and_its_errors() -> None:
    lps = logprobs([-1.0], [-9.0], [-3.0])
    value = Consistency(pairs=[(0, 2)])([datum(1)] * 3, lps)
    assert value.item() == approx(4.0)
    assert grads(value, lps) == approx([[4.0], [0.0], [-4.0]])
    with pytest.raises(RegularizerError, match="even number"):
        Consistency()([datum(1)] * 3, logprobs([-1.0], [-1.0], [-1.0]))
    with pytest.raises(RegularizerError, match="same targets"):
        Consistency()([datum(1), datum(2)], logprobs([-1.0], [-1.0, -2.0]))
    with pytest.raises(RegularizerError, match="outside the batch"):
        Consistency(pairs=[(0, 5)])([datum(1)], logprobs([-1.0]))


# ---------------------------------------------------------------------- gradient penalty


def test_gradient_penalty_squares_the_loss_gradient_norm() -> None:
    def half_square(data: object, lps: list[torch.Tensor]) -> torch.Tensor:
        return sum((lp.square().sum() / 2 for lp in lps), torch.zeros((), dtype=torch.float64))

    batch = [datum(2), datum(1)]
    lps = logprobs([-1.0, -2.0], [-2.0])
    value = GradientPenalty(half_square)(batch, lps)  # gradient = logprobs; norm^2 = 1 + 4 + 4
    assert value.item() == approx(9.0)
    assert grads(value, lps) == approx([[-2.0, -4.0], [-4.0]])
    lps = logprobs([-1.0, -2.0], [-2.0])
    value = GradientPenalty(half_square, target_norm=1.0)(batch, lps)  # (3 - 1)^2
    assert value.item() == approx(4.0)
    assert grads(value, lps) == approx([[-4 / 3, -8 / 3], [-8 / 3]])  # 2 (3 - 1) lp / 3


def test_gradient_penalty_of_a_linear_loss_is_constant() -> None:
    lps = logprobs([-1.0, -2.0])
    value = GradientPenalty(cross_entropy)([datum(2)], lps)  # gradient -weights: norm^2 = 2
    assert value.item() == approx(2.0)
    assert grads(value, lps) == approx([[0.0, 0.0]])


# ---------------------------------------------------------------------- orthogonality


def test_orthogonality_is_the_mean_squared_correlation_between_datums() -> None:
    lps = logprobs([-1.0, -2.0, -3.0], [-1.0, -3.0, -2.0])
    value = Orthogonality()([datum(3), datum(3)], lps)
    # centered (1, 0, -1) and (1, -1, 0): correlation 1/2, squared 1/4
    assert value.item() == pytest.approx(0.25, abs=1e-9)
    assert grads(value, lps) == approx([[0.25, -0.5, 0.25], [0.25, 0.25, -0.5]])


def test_orthogonality_needs_equal_lengths_and_is_zero_for_one_datum() -> None:
    lps = logprobs([-1.0, -2.0])
    value = Orthogonality()([datum(2)], lps)
    assert value.item() == 0.0
    assert value.requires_grad
    with pytest.raises(RegularizerError, match=r"'orthogonality'.*same number.*\[2, 3\]"):
        Orthogonality()([datum(2), datum(3)], logprobs([-1.0, -2.0], [-1.0, -2.0, -3.0]))


# ---------------------------------------------------------------------- shared behaviour


def test_a_batch_with_no_counted_token_gives_zero_on_the_graph() -> None:
    lps = logprobs([-1.0, -2.0])
    for regularizer in (L1(), L2(), ElasticNet(), Entropy()):
        value = regularizer([datum(2, weights=[0.0, 0.0])], lps)
        assert value.item() == 0.0
        assert grads(value, lps) == [0.0, 0.0]


def test_weights_of_the_wrong_length_are_named() -> None:
    bad = datum(2)
    with pytest.raises(RegularizerError, match=r"'l2'.*'weights'.* 2 entries .* 3 logprobs"):
        L2()([bad], logprobs([-1.0, -2.0, -3.0]))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: L1(of="weights"), "of must be"),  # type: ignore[arg-type]
        (lambda: ElasticNet(l1_ratio=1.5), "l1_ratio"),
        (lambda: ElasticNet(of="logits"), "ElasticNet: of must be"),  # type: ignore[arg-type]
        (lambda: ElasticNet(l1_ratio=float("nan")), "l1_ratio"),
        (lambda: Entropy(mode="up"), "mode"),  # type: ignore[arg-type]
        (lambda: KLDivergence(estimator="k4"), "estimator"),  # type: ignore[arg-type]
        (lambda: Consistency(metric="cos"), "metric"),  # type: ignore[arg-type]
        (lambda: GradientPenalty(cross_entropy, target_norm=-1.0), "target_norm"),
    ],
)
def test_bad_options_fail_at_construction(make: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()  # type: ignore[operator]
