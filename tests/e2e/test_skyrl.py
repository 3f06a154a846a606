"""tinkex against a real Tinker server (skyrl-tx): training, sampling, logprobs, checkpoints,
errors. Run with ``TINKEX_E2E=1`` (``make e2e``); see conftest.py.

The tests share one backend, one ServiceClient and one training run; each test that needs the
run's weights in a given state puts them there itself, so the tests run in any order.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import tinkex as tinker
from tests.e2e.conftest import (
    LEARNING_RATE,
    PROMPT,
    SCORED,
    datum,
    logprobs_of,
    mean_nll,
    unload,
)
from tinkex import types

STEPS = 6
MAX_TOKENS = 16


def step(training: Any, data: list[Any]) -> float:
    """One training step; the loss of the batch before it."""
    fb = training.forward_backward(data, "cross_entropy")
    opt = training.optim_step(types.AdamParams(learning_rate=LEARNING_RATE))
    loss = mean_nll(fb.result(), data)
    opt.result()
    return loss


def close(a: list[list[float]], b: list[list[float]], tol: float = 1e-4) -> bool:
    return all(
        len(x) == len(y) and all(abs(p - q) <= tol for p, q in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    ) and len(a) == len(b)


@pytest.fixture(scope="module")
def saved_state(training: Any, data: list[Any]) -> tuple[str, list[list[float]]]:
    """A saved training state and the forward logprobs of ``data`` at it."""
    step(training, data)
    path = training.save_state("e2e-state").result().path
    return path, logprobs_of(training.forward(data, "cross_entropy").result())


# ----------------------------------------------------------------------------- training


def test_training_loop_loss_goes_down(training: Any, data: list[Any]) -> None:
    losses = [step(training, data) for _ in range(STEPS)]
    after = mean_nll(training.forward(data, "cross_entropy").result(), data)
    losses.append(after)
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < losses[0] - 0.1, losses


def test_forward_returns_one_logprob_per_target(training: Any, data: list[Any]) -> None:
    out = training.forward(data, "cross_entropy").result()
    assert len(out.loss_fn_outputs) == len(data)
    for item, d in zip(out.loss_fn_outputs, data, strict=True):
        assert len(item["logprobs"].tolist()) == len(d.loss_fn_inputs["target_tokens"].tolist())
        assert all(lp <= 0.0 for lp in item["logprobs"].tolist())


def test_the_loss_skyrl_omits_is_computed_by_the_client(training: Any, data: list[Any]) -> None:
    out = training.forward(data, "cross_entropy").result()
    # skyrl-tx sends no metrics; were that to change, its own loss would be kept, unmarked
    if "loss:client_computed" not in out.metrics:
        pytest.skip(f"this skyrl-tx sends its own metrics: {out.metrics}")
    assert out.metrics["loss:client_computed"] == 1.0
    assert out.metrics["loss:mean"] == pytest.approx(mean_nll(out, data), rel=1e-5)


# ----------------------------------------------------------------------------- sampling


def test_sampling_max_tokens_and_num_samples(base_sampler: Any, tokens: dict[str, Any]) -> None:
    prompt = types.ModelInput.from_ints(tokens[PROMPT])
    params = types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.8, seed=3)
    result = base_sampler.sample(prompt, 2, params).result()
    assert len(result.sequences) == 2
    for seq in result.sequences:
        assert 0 < len(seq.tokens) <= MAX_TOKENS
        assert seq.stop_reason in ("length", "stop")
        assert seq.logprobs is not None
        assert len(seq.logprobs) == len(seq.tokens)
    short = base_sampler.sample(prompt, 1, types.SamplingParams(max_tokens=4, temperature=0.0))
    seq = short.result().sequences[0]
    assert len(seq.tokens) == 4
    assert seq.stop_reason == "length"


def test_sampling_stop_sequences(base_sampler: Any, tokens: dict[str, Any], decode: Any) -> None:
    prompt = types.ModelInput.from_ints(tokens[PROMPT])
    greedy = base_sampler.sample(
        prompt, 1, types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0)
    )
    full = greedy.result().sequences[0].tokens
    assert len(full) == MAX_TOKENS
    k = next(i for i in range(2, len(full)) if full[i] not in full[:i])  # first repeat-free
    stop_token = full[k]

    by_token = base_sampler.sample(
        prompt, 1, types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, stop=[stop_token])
    )
    seq = by_token.result().sequences[0]
    assert seq.stop_reason == "stop"
    assert seq.tokens[:k] == full[:k]
    assert len(seq.tokens) in (k, k + 1)  # with or without the stop token itself

    # A stop string: the text of a later token that the text before it does not contain.
    def clean(text: str) -> bool:
        return bool(text.strip()) and text.isprintable() and "\ufffd" not in text

    j = next(
        (
            i
            for i in range(2, len(full))
            if clean(piece := decode([full[i]])) and piece not in decode(full[:i])
        ),
        None,
    )
    assert j is not None, f"no token of the greedy sample decodes to clean text: {full}"
    piece = decode([full[j]])
    by_string = base_sampler.sample(
        prompt, 1, types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, stop=[piece])
    )
    seq = by_string.result().sequences[0]
    assert seq.stop_reason == "stop", (piece, seq)
    assert seq.tokens == full[: len(seq.tokens)]
    assert len(seq.tokens) <= j + 1

    # Stop strings that never occur change nothing (a plain string works like a list).
    for stop in ([" no-such-text-in-a-sample "], "\x00\x00never"):
        never = base_sampler.sample(
            prompt, 1, types.SamplingParams(max_tokens=MAX_TOKENS, temperature=0.0, stop=stop)
        )
        seq = never.result().sequences[0]
        assert seq.tokens == full
        assert seq.stop_reason == "length"


# ----------------------------------------------------------------------------- logprobs


def test_compute_logprobs_one_per_token_first_none(
    base_sampler: Any, tokens: dict[str, Any]
) -> None:
    ids = tokens[SCORED]
    logprobs = base_sampler.compute_logprobs(types.ModelInput.from_ints(ids)).result()
    assert len(logprobs) == len(ids)
    assert logprobs[0] is None
    assert all(isinstance(lp, float) and lp <= 0.0 for lp in logprobs[1:])


def test_compute_logprobs_agrees_with_forward(training: Any, tokens: dict[str, Any]) -> None:
    ids = tokens[SCORED]
    forward = training.forward([datum(ids)], "cross_entropy").result()
    sampler = training.save_weights_and_get_sampling_client().result()
    logprobs = sampler.compute_logprobs(types.ModelInput.from_ints(ids)).result()
    # forward's logprob i is that of token i + 1 given the ones before: compute_logprobs[i + 1].
    assert close([logprobs[1:]], logprobs_of(forward), tol=1e-3)


# ----------------------------------------------------------------------------- checkpoints


def test_save_state_then_load_state_restores_logprobs(
    training: Any, data: list[Any], saved_state: tuple[str, list[list[float]]]
) -> None:
    path, at_save = saved_state
    assert path.startswith(f"tinker://{training.model_id}/weights/")
    step(training, data)
    moved = logprobs_of(training.forward(data, "cross_entropy").result())
    assert not close(moved, at_save), "a training step did not change the logprobs"
    training.load_state(path).result()
    assert close(logprobs_of(training.forward(data, "cross_entropy").result()), at_save)


def test_create_training_client_from_state(
    backend: Any, service: Any, data: list[Any], saved_state: tuple[str, list[list[float]]]
) -> None:
    path, at_save = saved_state
    restored = service.create_training_client_from_state(path).result()
    try:
        assert restored.model_id not in path
        assert close(logprobs_of(restored.forward(data, "cross_entropy").result()), at_save)
        assert step(restored, data) > mean_nll(
            restored.forward(data, "cross_entropy").result(), data
        )
    finally:
        unload(backend, restored.model_id)


def test_list_checkpoints(
    service: Any, training: Any, saved_state: tuple[str, list[list[float]]]
) -> None:
    path, _ = saved_state
    sampler = training.save_weights_for_sampler("e2e-sampler").result()
    assert sampler.path == f"tinker://{training.model_id}/sampler_weights/e2e-sampler"
    listed = service.create_rest_client().list_checkpoints(training.model_id).result()
    by_path = {c.tinker_path: c for c in listed.checkpoints}
    assert path in by_path, sorted(by_path)
    assert sampler.path in by_path, sorted(by_path)
    assert by_path[path].checkpoint_type == "training"
    assert by_path[sampler.path].checkpoint_type == "sampler"


# ----------------------------------------------------------------------------- errors


def test_unknown_base_model_is_a_clear_error(service: Any) -> None:
    with pytest.raises((ValueError, tinker.APIError)) as info:
        service.create_lora_training_client("no-such-org/no-such-model", rank=8).result()
    assert "no-such-org/no-such-model" in str(info.value)


@pytest.mark.parametrize(
    "bad",
    ["tinker://run-only", "tinker://run/weights", "s3://bucket/weights/x", "tinker://r/bogus/x"],
)
def test_bad_tinker_path_is_a_value_error(service: Any, training: Any, bad: str) -> None:
    calls = [
        lambda: service.create_sampling_client(model_path=bad),
        lambda: service.create_training_client_from_state(bad),
        lambda: training.load_state(bad),
        lambda: service.create_rest_client().get_weights_info_by_tinker_path(bad),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="expected") as info:
            call()
        assert bad in str(info.value)
        assert "tinker://" in str(info.value)


def test_missing_checkpoint_is_an_api_error(training: Any) -> None:
    with pytest.raises(tinker.APIError) as info:
        training.load_state("tinker://no-such-run/weights/no-such-state").result()
    assert info.value.status_code in (400, 404)
